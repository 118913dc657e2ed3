import CILHarness
import Foundation
import Testing

private let tool = builtCilbench

/// Runs the built cilbench with arguments; returns exit code, standard output and error.
@discardableResult
private func cilbench(_ arguments: [String], environment: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
    try runTool(tool!.executable.path, arguments, environment: environment)
}

/// posix_spawn and waitpid, output through temporary files: the Slurm helper leaves
/// daemons behind it, and nothing here may wait on pipes or reaping it does not control.
private func runTool(_ path: String, _ arguments: [String], environment: [String: String] = [:]) throws -> (code: Int32, out: String, err: String) {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    let stamp = UUID().uuidString
    let outPath = FileManager.default.temporaryDirectory.appendingPathComponent("gridtests-\(stamp).out").path
    let errPath = FileManager.default.temporaryDirectory.appendingPathComponent("gridtests-\(stamp).err").path
    defer { unlink(outPath); unlink(errPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard spawned == 0 else { throw HarnessError.mismatch("cannot start \(path): \(String(cString: strerror(spawned)))") }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
    let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let read = { (p: String) in String(decoding: FileManager.default.contents(atPath: p) ?? Data(), as: UTF8.self) }
    return (code, read(outPath), read(errPath))
}

/// Starts a tool in the background (output to a file); returns its pid.
private func startTool(_ path: String, _ arguments: [String], output: String, environment: [String: String] = [:]) throws -> pid_t {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, nil, argv, envp)
    guard spawned == 0 else { throw HarnessError.mismatch("cannot start \(path): \(String(cString: strerror(spawned)))") }
    return pid
}

/// Waits for a child; its exit code, or 128 + the signal that ended it.
private func waitTool(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
}

/// Every phase digest and accuracy count of two bundles, for "bit-identical" checks.
private func sameRun(_ a: RunResult, _ b: RunResult) -> Bool {
    a.phases.map(\.parameterDigest) == b.phases.map(\.parameterDigest) && a.phases.map(\.exemplarDigest) == b.phases.map(\.exemplarDigest)
        && a.phases.map(\.predictionDigest) == b.phases.map(\.predictionDigest) && a.cnn == b.cnn && a.nme == b.nme
}

/// The smoke grid's cells run one by one with `cilbench run` (one thread, as the grid's
/// cells below), the reference every grid execution must equal. Made once per process.
private final class Reference: @unchecked Sendable {
    static let shared = Reference()
    private let lock = NSLock()
    private var bundles: [String: RunResult]?
    let root = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-grid-\(getpid())")

    /// A test process has no hook after its last test, so each one removes the folders of
    /// earlier test processes that have ended (grid outputs and Slurm clusters, ~15 MB each).
    init() {
        let temporary = FileManager.default.temporaryDirectory
        for name in (try? FileManager.default.contentsOfDirectory(atPath: temporary.path)) ?? [] {
            guard let prefix = ["cilbench-grid-", "cilbench-slurm-"].first(where: { name.hasPrefix($0) }),
                  let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: temporary.appendingPathComponent(name))
        }
    }

    /// The smoke grid's variants in cell order.
    static let variants = ["lucir", "lucir+aanets", "icarl", "icarl+aanets", "lwf", "lwf+aanets"]

    func smoke() throws -> [String: RunResult] {
        lock.lock(); defer { lock.unlock() }
        if let bundles { return bundles }
        let out = root.appendingPathComponent("one-by-one").path
        var made: [String: RunResult] = [:]
        for variant in Self.variants {
            let method = variant.replacingOccurrences(of: "+aanets", with: "")
            let r = try cilbench(["run", "smoke", "--protocols", tool!.protocols, "--method", method, "--seed", "1993", "--threads", "1", "--out", out]
                                 + (variant.hasSuffix("+aanets") ? ["--aanets"] : []))
            guard r.code == 0 else { throw HarnessError.mismatch("cilbench run smoke \(variant) failed: \(r.err.suffix(300))") }
            made[variant] = try ResultBundle.read(path: "\(out)/smoke/\(variant)/seed-1993.tar.zst")
        }
        bundles = made
        return made
    }
}

/// A one-node Slurm started by Tests/Support/slurm-local.sh and stopped by it (by pid).
private struct LocalSlurm {
    let folder: URL
    var environment: [String: String] { ["SLURM_CONF": folder.appendingPathComponent("slurm.conf").path] }
    static let script = packageRoot.appendingPathComponent("Tests/Support/slurm-local.sh").path

    /// Nil with the reason when Slurm cannot run here.
    static func start() throws -> (LocalSlurm?, String) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-slurm-\(getpid())")
        let r = try runTool("/bin/bash", [script, "start", folder.path])
        guard r.code == 0 else { return (nil, r.err.trimmingCharacters(in: .whitespacesAndNewlines)) }
        return (LocalSlurm(folder: folder), "")
    }

    func stop() { _ = try? runTool("/bin/bash", [Self.script, "stop", folder.path]) }

    func run(_ tool: String, _ arguments: [String]) throws -> (code: Int32, out: String, err: String) {
        try runTool("/usr/bin/\(tool)", arguments, environment: environment)
    }

    /// Job ids Slurm still lists (pending, running or recently finished), as `%i` shows them,
    /// one array task per line (`-r`: without it pending tasks collapse into `job_[0-5]`, so
    /// a requeued task `job_0` waiting for its begin time was never found and never started).
    func jobs(states: String = "all") throws -> [String: String] {
        let r = try run("squeue", ["-h", "-r", "-t", states, "-o", "%i %T"])
        var out: [String: String] = [:]
        for line in r.out.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { out[String(parts[0])] = String(parts[1]) }
        }
        return out
    }

    /// What Slurm knows of a job, and what its controller logged about it, for a failure message.
    func diagnosis(job: String) -> String {
        let shown = (try? run("scontrol", ["show", "job", job]))?.out ?? ""
        let id = job.split(separator: "_").first.map(String.init) ?? job
        let log = (try? String(contentsOf: folder.appendingPathComponent("log/slurmctld.log"), encoding: .utf8)) ?? ""
        let lines = log.split(separator: "\n").filter { $0.contains("JobId=\(id)") || $0.contains("\(job)") || $0.contains("requeue") }.suffix(30)
        return "scontrol show job \(job): \(shown.isEmpty ? "(nothing)" : shown)\nslurmctld.log:\n" + lines.joined(separator: "\n")
    }

    /// Waits until no job is pending or running.
    func waitIdle(timeout: TimeInterval = 150) throws -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try jobs(states: "PENDING,RUNNING,CONFIGURING,COMPLETING,REQUEUED").isEmpty { return true }
            usleep(300_000)
        }
        return false
    }
}

@Suite(.serialized, .enabled(if: tool != nil, "cilbench executable or protocols/ not found next to the test bundle; build it first"))
struct GridTests {
    var cache: [String: String] { ["CILBENCH_CACHE": Reference.shared.root.appendingPathComponent("cache").path] }

    func grid(_ name: String, _ text: String) throws -> String {
        let folder = Reference.shared.root.appendingPathComponent("grids")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("\(name).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Bad grids and flags: one error line naming the problem, exit 2, before anything runs.
    @Test func planRejectsBadGridsWithOneLine() throws {
        let p = tool!.protocols
        let cases: [(String, [String], String)] = [
            (try grid("unknown-protocol", "protocols: [smoke, no-such]\nmethods: [lucir]\nseeds: [1993]\n"), [], "unknown protocol"),
            (try grid("unknown-method", "protocols: [smoke]\nmethods: [lucir, lucid]\nseeds: [1993]\n"), [], "lucid"),
            (try grid("bad-seed", "protocols: [smoke]\nmethods: [lucir]\nseeds: [1993, 19x4]\n"), [], "'19x4' is not a seed"),
            (try grid("negative-seed", "protocols: [smoke]\nmethods: [lucir]\nseeds: [-1]\n"), [], "is not a seed"),
            (try grid("twice-seed", "protocols: [smoke]\nmethods: [lucir]\nseeds: [1993, 1993]\n"), [], "listed twice"),
            (try grid("no-seeds", "protocols: [smoke]\nmethods: [lucir]\n"), [], "seeds: required"),
            (try grid("unknown-field", "protocols: [smoke]\nmethods: [lucir]\nseeds: [1]\nseed: [2]\n"), [], "unknown field 'seed'"),
            (try grid("bad-set", "protocols: [smoke]\nmethods: [lucir]\nseeds: [1]\nset: [training.epochz=3]\n"), [], "epochz"),
            (try grid("rule-typo", "protocols: [smoke]\nmethods: [lucir]\nseeds: [1]\nexclude: [{method: lwf}]\n"), [], "rule names method 'lwf'"),
            (try grid("no-data", "protocols: [fmnist-b5-5-quick]\nmethods: [lucir]\nseeds: [1]\n"), ["--data-root", "/no/such/folder"], "does not exist"),
            (try grid("cifar-no-root", "protocols: [cifar100-b50-5]\nmethods: [lucir]\nseeds: [1]\n"), [], "CIFAR-100 needs --data-root"),
            ("/no/such/grid.yaml", [], "no such grid file"),
        ]
        for (path, extra, fragment) in cases {
            let r = try cilbench(["grid", "plan", path, "--protocols", p, "--no-bench"] + extra, environment: cache)
            let lines = r.err.split(separator: "\n")
            #expect(r.code == 2, "\(path): exit \(r.code), \(r.err)")
            #expect(lines.count == 1 && r.err.contains(fragment), "\(path): \(r.err)")
            #expect(r.out.isEmpty, "\(path): printed \(r.out)")
        }
        // Slurm's own checks, before any sbatch call: a time limit it would reject, no sbatch.
        let smoke = "\(p)/grids/smoke.yaml"
        for (extra, environment, fragment) in [(["--time", "1:2:3:4"], [String: String](), "is not a Slurm time limit"),
                                               (["--time", "ten"], [:], "is not a Slurm time limit"),
                                               (["--submit"], ["PATH": "/nonexistent"], "sbatch not found")] {
            let out = Reference.shared.root.appendingPathComponent("bad-slurm").path
            let r = try cilbench(["grid", "slurm", smoke, "--protocols", p, "--out", out] + extra, environment: cache.merging(environment) { $1 })
            #expect(r.code == 2 && r.err.split(separator: "\n").count == 1 && r.err.contains(fragment), "\(extra): \(r.code) \(r.err)")
            #expect(!FileManager.default.fileExists(atPath: "\(out)/.grid/smoke/smoke.sbatch"), "nothing is written for a rejected grid")
        }
    }

    /// The shipped grids expand and validate (CIFAR and ImageNet with a data root shaped
    /// like the real ones), with the expected cells and shared phase-0 groups.
    @Test func shippedGridsPlan() throws {
        let p = tool!.protocols
        let root = Reference.shared.root.appendingPathComponent("fake-data")
        for file in ["cifar-100-binary/train.bin", "cifar-100-binary/test.bin"] {
            let url = root.appendingPathComponent(file)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            FileManager.default.createFile(atPath: url.path, contents: Data())
        }
        for split in ["train", "val"] { try FileManager.default.createDirectory(at: root.appendingPathComponent(split), withIntermediateDirectories: true) }
        for (name, cells, groups) in [("smoke", 6, 2), ("fmnist-quick", 10, 4), ("aanets-gain-fmnist", 12, 3),
                                      ("aanets-table1-cifar100", 90, 36), ("aanets-table1-imagenet-subset", 30, 12)] {
            let r = try cilbench(["grid", "plan", name, "--protocols", p, "--no-bench", "--data-root", name.hasPrefix("aanets-table1") ? root.path : "/usr/share/datasets/fashion-mnist"],
                                 environment: cache)
            #expect(r.code == 0, "\(name): \(r.err)")
            #expect(r.out.contains(": \(cells) cells"), "\(name): \(r.out.prefix(300))")
            #expect(r.out.components(separatedBy: "shared phase 0: ").count - 1 == groups, "\(name): \(r.out.suffix(2000))")
        }
    }

    /// `grid run --jobs 2` writes the same bundles as the cells run one by one; a cell that
    /// fails is reported as failed with its error and the others finish; running again
    /// skips the finished cells and completes the failed one once its cause is gone.
    @Test func localPoolEqualsOneByOneAndStatusFollows() throws {
        let reference = try Reference.shared.smoke()
        let p = tool!.protocols
        let out = Reference.shared.root.appendingPathComponent("pool")
        let common = ["--protocols", p, "--out", out.path, "--threads", "1"]
        var status = try cilbench(["grid", "status", "smoke"] + common, environment: cache)
        #expect(status.code == 0 && status.out.contains("6 cells: 6 pending"), "\(status.out)")

        // Ctrl-C (SIGINT to the pool) while cells train: the workers stop, their cells show
        // as interrupted, the pool exits 130; the runs below continue from there.
        let log = Reference.shared.root.appendingPathComponent("pool-interrupted.log").path
        let pool = try startTool(tool!.executable.path, ["grid", "run", "smoke", "--jobs", "2"] + common, output: log, environment: cache)
        let plan = try GridPlan(grid: try GridFile.load(file: "\(p)/grids/smoke.yaml"), library: ProtocolLibrary(directory: p), dataRoot: nil, threads: 1, build: "")
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !plan.cells.contains(where: { (GridCellStatus.read($0.statusURL(out: out))?.phase ?? 0) >= 1 }) { usleep(20_000) }
        kill(pool, SIGINT)
        let interruptedCode = waitTool(pool)
        let interruptedLog = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        #expect(interruptedCode == 130, "\(interruptedLog)")
        #expect(interruptedLog.contains("stopped after"), "\(interruptedLog)")
        status = try cilbench(["grid", "status", "smoke"] + common, environment: cache)
        #expect(status.out.contains("interrupted after phase"), "\(status.out)")

        // A damaged checkpoint makes one cell fail (and only that one).
        let broken = out.appendingPathComponent("smoke/lwf+aanets/seed-1993.checkpoint")
        try FileManager.default.createDirectory(at: broken.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data("not a checkpoint".utf8).write(to: broken)
        let first = try cilbench(["grid", "run", "smoke", "--jobs", "2"] + common, environment: cache)
        #expect(first.code == 1, "\(first.out)\n\(first.err)")
        #expect(first.out.contains("cell 5 smoke/lwf+aanets/seed-1993: FAILED"), "\(first.out)")
        status = try cilbench(["grid", "status", "smoke"] + common, environment: cache)
        #expect(status.out.contains("5 done, 1 failed"), "\(status.out)")
        #expect(status.out.contains("smoke/lwf+aanets/seed-1993\tfailed on ") && status.out.contains("not a cilbench checkpoint"), "\(status.out)")

        try FileManager.default.removeItem(at: broken)
        let second = try cilbench(["grid", "run", "smoke", "--jobs", "2"] + common, environment: cache)
        #expect(second.code == 0, "\(second.out)\n\(second.err)")
        #expect(second.out.contains("5 done, 1 to run"), "\(second.out)")
        status = try cilbench(["grid", "status", "smoke"] + common, environment: cache)
        #expect(status.out.contains("6 cells: 6 done"), "\(status.out)")

        for variant in Reference.variants {
            let pooled = try ResultBundle.read(path: out.appendingPathComponent("smoke/\(variant)/seed-1993.tar.zst").path)
            #expect(sameRun(pooled, reference[variant]!), "\(variant): the pool's bundle differs from the one-by-one run")
        }
        let table = try cilbench(["grid", "table", "smoke"] + common, environment: cache)
        #expect(table.code == 0 && table.out.contains("| method | smoke |") && table.out.contains("| lucir+aanets | "), "\(table.out)")
        #expect(!table.out.contains("missing"), "\(table.out)")
    }

    /// The Slurm suite: the smoke grid submitted as two job arrays equals the cells run one
    /// by one; a task cancelled mid-phase and requeued ends bit-identical to an unbroken
    /// run; `grid status` follows (pending, running, interrupted, done); bad grids submit
    /// nothing.
    @Test func slurmArraysEqualOneByOneAndSurviveRequeue() throws {
        guard getuid() == 0 || ProcessInfo.processInfo.environment["CILBENCH_REQUIRE_SLURM"] != nil else {
            print("GridTests: Slurm suite skipped: slurmd must run as root to start jobs (uid \(getuid()))")
            return
        }
        let (started, reason) = try LocalSlurm.start()
        guard let slurm = started else {
            #expect(ProcessInfo.processInfo.environment["CILBENCH_REQUIRE_SLURM"] == nil, "Slurm did not start: \(reason)")
            print("GridTests: Slurm suite skipped: \(reason)")
            return
        }
        defer { slurm.stop() }
        let reference = try Reference.shared.smoke()
        let p = tool!.protocols
        let env = cache.merging(slurm.environment) { $1 }

        // A bad grid submits nothing.
        let bad = try grid("bad-for-slurm", "protocols: [smoke]\nmethods: [lucir]\nseeds: [1993, oops]\n")
        let rejected = try cilbench(["grid", "slurm", bad, "--protocols", p, "--out", Reference.shared.root.appendingPathComponent("bad").path, "--submit"], environment: env)
        #expect(rejected.code == 2 && rejected.err.contains("'oops' is not a seed"), "\(rejected.err)")
        #expect(try slurm.jobs().isEmpty, "a rejected grid must submit nothing")

        // The whole smoke grid as job arrays.
        let out = Reference.shared.root.appendingPathComponent("slurm")
        let common = ["--protocols", p, "--out", out.path]
        let submitted = try cilbench(["grid", "slurm", "smoke", "--cpus-per-task", "1", "--max-parallel", "2", "--time", "00:10:00", "--submit"] + common, environment: env)
        #expect(submitted.code == 0, "\(submitted.err)")
        #expect(submitted.out.contains("submitted phase-0 producers: job") && submitted.out.contains("submitted cells: job"), "\(submitted.out)")
        #expect(try slurm.waitIdle(), "the smoke grid's jobs did not finish")
        let status = try cilbench(["grid", "status", "smoke", "--threads", "1"] + common, environment: env)
        #expect(status.out.contains("6 cells: 6 done"), "\(status.out)")
        for variant in Reference.variants {
            let path = out.appendingPathComponent("smoke/\(variant)/seed-1993.tar.zst").path
            let bundle = try ResultBundle.read(path: path)
            #expect(sameRun(bundle, reference[variant]!), "\(variant): the Slurm task's bundle differs from the one-by-one run")
        }

        // scancel one task mid-phase, requeue it: its bundle equals an unbroken run's.
        let settings = ["training.epochs=4", "dataset.train_images_per_class=60"]
        let unbrokenOut = Reference.shared.root.appendingPathComponent("unbroken").path
        let unbroken = try cilbench(["run", "smoke", "--protocols", p, "--method", "lucir", "--aanets", "--threads", "1", "--out", unbrokenOut]
                                    + settings.flatMap { ["--set", $0] }, environment: cache)
        #expect(unbroken.code == 0, "\(unbroken.err)")
        let long = try grid("requeue", "protocols: [smoke]\nmethods: [lucir]\naanets: true\nseeds: [1993]\nset: [\(settings.joined(separator: ", "))]\n")
        let requeueOut = Reference.shared.root.appendingPathComponent("requeue")
        let rcommon = ["--protocols", p, "--out", requeueOut.path, "--threads", "1"]
        var state = try cilbench(["grid", "status", long] + rcommon, environment: env)
        #expect(state.out.contains("1 cells: 1 pending"), "\(state.out)")
        let submittedLong = try cilbench(["grid", "slurm", long, "--cpus-per-task", "1", "--submit"] + rcommon.dropLast(2), environment: env)
        #expect(submittedLong.code == 0, "\(submittedLong.err)")
        let job = submittedLong.out.split(separator: "\n").first { $0.hasPrefix("submitted cells: job ") }.map { String($0.dropFirst("submitted cells: job ".count).prefix { $0 != " " }) } ?? ""
        #expect(!job.isEmpty, "\(submittedLong.out)")
        let plan = try GridPlan(grid: try GridFile.load(file: long), library: ProtocolLibrary(directory: p), dataRoot: nil, threads: 1, build: "")
        let cell = plan.cells[0]
        let deadline = Date().addingTimeInterval(120)
        var sawRunning = false
        // Cancel once phase 0 is checkpointed and phase 1 has begun training.
        while Date() < deadline {
            if let s = GridCellStatus.read(cell.statusURL(out: requeueOut)), s.state == .running, s.phase >= 1,
               FileManager.default.fileExists(atPath: cell.checkpointURL(out: requeueOut).path) {
                state = try cilbench(["grid", "status", long] + rcommon, environment: env)
                sawRunning = state.out.contains("running: phase 2/3")
                break
            }
            usleep(20_000)
        }
        #expect(sawRunning, "never saw the task running phase 2: \(state.out)")
        let cancelledAt = Date()
        let cancelled = try slurm.run("scancel", ["\(job)_0"])
        #expect(cancelled.code == 0, "\(cancelled.err)")
        var gone = false
        for _ in 0..<100 where !gone {
            gone = try slurm.jobs(states: "RUNNING,COMPLETING").isEmpty
            usleep(100_000)
        }
        #expect(gone, "the cancelled task is still running")
        #expect(!FileManager.default.fileExists(atPath: cell.bundleURL(out: requeueOut).path), "a cancelled task must not leave a bundle")
        state = try cilbench(["grid", "status", long] + rcommon, environment: env)
        #expect(state.out.contains("1 interrupted") && state.out.contains("interrupted after phase"), "\(state.out)")

        let task = "\(job)_0"
        let requeued = try slurm.run("scontrol", ["requeue", task])
        #expect(requeued.code == 0, "\(requeued.err)")
        // Slurm holds a requeued job back for a while (BeginTime): start it now, but not within
        // two seconds of the scancel. slurmd revokes the cancelled job's credential, and a
        // launch whose credential was created in the same second is refused ("Killing
        // non-startable batch JobId=7: Job credential revoked", slurmctld.log of a CI run at
        // 6301553): the task then ends FAILED, which the old loop never requeued (CI at
        // 77763c7: never ran again, record purged after MinJobAge). A task still finished is
        // requeued again, as an operator would. The bound is generous for a loaded machine.
        let requeueDeadline = Date().addingTimeInterval(400)
        var requeues = 1
        var lastRequeue = Date()
        var states: [String] = []
        while Date() < requeueDeadline {
            if FileManager.default.fileExists(atPath: cell.bundleURL(out: requeueOut).path), try slurm.waitIdle(timeout: 30) { break }
            let now = try slurm.jobs()[task] ?? "not listed"
            if states.last != now { states.append(now) }
            if now == "PENDING", Date().timeIntervalSince(cancelledAt) > 2 {
                _ = try slurm.run("scontrol", ["update", "jobid=\(task)", "StartTime=now"])
            } else if ["CANCELLED", "COMPLETED", "FAILED", "TIMEOUT", "NODE_FAIL", "PREEMPTED"].contains(now), Date().timeIntervalSince(lastRequeue) > 10 {
                _ = try slurm.run("scontrol", ["requeue", task])
                requeues += 1
                lastRequeue = Date()
            }
            usleep(300_000)
        }
        print("GridTests: the requeued task went through \(states) after \(requeues) requeue(s)")
        state = try cilbench(["grid", "status", long] + rcommon, environment: env)
        let shown = state.out.contains("1 cells: 1 done") ? "" : slurm.diagnosis(job: task)
        #expect(state.out.contains("1 cells: 1 done"), "\(state.out)\nstates seen: \(states), requeues: \(requeues)\n\(shown)")
        let log = (try? String(contentsOfFile: "\(requeueOut.path)/.grid/requeue/slurm-\(job)_0.log", encoding: .utf8)) ?? ""
        #expect(log.contains("resuming after phase"), "the requeued task must resume: \(log.suffix(500))")
        let a = try ResultBundle.read(path: cell.bundleURL(out: requeueOut).path)
        let b = try ResultBundle.read(path: cell.bundleURL(out: URL(fileURLWithPath: unbrokenOut)).path)
        #expect(sameRun(a, b), "the requeued task's bundle differs from the unbroken run's")
    }
}

/// Grid files, expansion, Slurm syntax and the phase-0 grouping, without running cells.
struct GridPlanTests {
    let library = ProtocolLibrary(directory: protocolsFolder)

    @Test func expansionOrderRulesAndIds() throws {
        let grid = try GridFile.parse("""
            protocols: [smoke]
            methods: [lucir, lwf]
            aanets: both
            seeds: 1993-1994
            set: [training.epochs=1]
            cells:
              - match: {method: lwf, seed: 1994}
                set: [memory.per_class=3]
            exclude:
              - {method: lwf, aanets: true}
            """, file: "test.yaml")
        let plan = try GridPlan(grid: grid, library: library, dataRoot: nil, threads: 1, build: "b")
        // protocols × methods × aanets × seeds, lwf+aanets left out.
        #expect(plan.cells.map { "\($0.variant)/\($0.seed)" } == ["lucir/1993", "lucir/1994", "lucir+aanets/1993", "lucir+aanets/1994", "lwf/1993", "lwf/1994"])
        #expect(plan.cells.map(\.index) == Array(0..<6))
        #expect(plan.cells[5].overrides == ["training.epochs=1", "memory.per_class=3"])
        #expect(plan.cells[4].overrides == ["training.epochs=1"])
        // Overrides put the settings tag into the path, as `cilbench run --set` does.
        for cell in plan.cells {
            let expected = RunExecution.bundleURL(out: URL(fileURLWithPath: "/o"), protocol: cell.protocolFile, method: cell.method, aanets: cell.aanets, seed: cell.seed)
            #expect(cell.bundleURL(out: URL(fileURLWithPath: "/o")) == expected)
            #expect(cell.id.hasPrefix("smoke@"))
        }
        #expect(plan.cells[4].id != plan.cells[5].id.replacingOccurrences(of: "1994", with: "1993"), "other settings, other tag")
        // lucir and lucir+aanets share phase 0 per seed; the lwf cells have their own.
        #expect(plan.sharedPhaseZero.map(\.producer) == [0, 1])
        #expect(plan.sharedPhaseZero.map(\.consumers) == [[2], [3]])
        #expect(plan.producers == [0, 1] && plan.followers == [2, 3, 4, 5])
    }

    /// The grid's phase-0 groups use the key a run computes after loading its data.
    @Test func phaseZeroKeyWithoutDataEqualsTheRunsKey() throws {
        let file = try library.load("smoke")
        for (method, aanets) in [("lucir", false), ("icarl", true), ("lwf", false), ("podnet", true), ("mnemonics", false)] {
            let plan = try RunPlan(protocol: file, method: method, aanets: aanets, seed: 7, dataRoot: nil, threads: 1)
            #expect(try RunPlan.phaseZeroKey(protocol: file, method: method, seed: 7, threads: 1, build: "x") == plan.phaseZeroKey(threads: 1, build: "x"))
        }
    }

    @Test func slurmSyntax() {
        #expect(SlurmScript.arraySpec([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8")
        #expect(SlurmScript.arraySpec([3]) == "3")
        #expect(SlurmScript.seconds(ofSlurmTime: "90") == 5400)
        #expect(SlurmScript.seconds(ofSlurmTime: "1:30") == 90)
        #expect(SlurmScript.seconds(ofSlurmTime: "12:00:00") == 43200)
        #expect(SlurmScript.seconds(ofSlurmTime: "2-00:00:00") == 172800)
        #expect(SlurmScript.seconds(ofSlurmTime: "1-12") == 129600)
        #expect(SlurmScript.seconds(ofSlurmTime: "UNLIMITED") == 0)
        for bad in ["", "ten", "1:2:3:4", "-5", "1-", "1:-2", "2-1:2:3:4"] { #expect(SlurmScript.seconds(ofSlurmTime: bad) == nil, "\(bad)") }
    }

    @Test func badGridFilesNameTheLine() {
        let cases: [(String, String)] = [
            ("protocols: [smoke]\nmethods: [lucir]\nseeds: [1]\naanets: maybe\n", "test.yaml:4: aanets: 'maybe' is not true or false"),
            ("protocols: [smoke]\nmethods: [lucir, lucir]\nseeds: [1]\n", "test.yaml:2: methods: 'lucir' is listed twice"),
            ("protocols: []\nmethods: [lucir]\nseeds: [1]\n", "test.yaml:1: protocols: the list is empty"),
            ("protocols: [smoke]\nmethods: [lucir]\nseeds: 1995-1993\n", "is not a range"),
            ("protocols: [smoke]\nmethods: [lucir]\nseeds: [1]\ncells:\n  - match: {method: lucir}\n", "a rule needs set"),
            ("- a\n- b\n", "a grid file is a mapping"),
        ]
        for (text, fragment) in cases {
            do {
                _ = try GridFile.parse(text, file: "test.yaml")
                Issue.record("accepted: \(text)")
            } catch {
                #expect(error.description.contains(fragment), "\(error.description)")
            }
        }
    }
}
