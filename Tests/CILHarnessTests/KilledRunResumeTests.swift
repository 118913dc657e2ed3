import CILHarness
import Foundation
import Testing

private let cilbench = builtCilbench

/// A run killed with SIGKILL in the middle of a phase, then continued with `--resume`,
/// writes a bundle whose digests and accuracy counts equal an unbroken run's.
@Suite(.serialized, .enabled(if: cilbench != nil, "cilbench executable or protocols/ not found next to the test bundle; build it first"))
struct KilledRunResumeTests {
    static let settings = ["--set", "training.epochs=4", "--set", "dataset.train_images_per_class=60", "--no-phase-zero-cache"]

    static func start(_ arguments: [String], method: [String] = ["--method", "lucir", "--aanets"], settings: [String] = settings,
                      environment: [String: String] = [:]) throws -> (Process, Pipe) {
        let process = Process()
        process.executableURL = cilbench!.executable
        process.arguments = ["run", "smoke", "--protocols", cilbench!.protocols] + method + settings + arguments
        if !environment.isEmpty { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        return (process, err)
    }

    /// The one protocol folder a run made under `out` (`smoke@<tag>` with overrides).
    static func protocolFolder(in out: String) throws -> String {
        let names = try FileManager.default.contentsOfDirectory(atPath: out).filter { !$0.hasPrefix(".") }
        guard names.count == 1 else { throw CocoaError(.fileNoSuchFile) }
        return names[0]
    }

    @Test func killedMidPhaseThenResumedEqualsUnbroken() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-kill-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        defer { try? FileManager.default.removeItem(at: root) }
        let unbrokenOut = root.appendingPathComponent("unbroken").path, killedOut = root.appendingPathComponent("killed").path

        let (unbroken, _) = try Self.start(["--out", unbrokenOut])
        unbroken.waitUntilExit()
        #expect(unbroken.terminationStatus == 0)

        // Kill as soon as phase 0's checkpoint exists, i.e. while phase 1 trains.
        let (victim, _) = try Self.start(["--out", killedOut])
        // With --set, the protocol's folder carries the settings' tag: the same for both outs.
        let protocolFolder = try Self.protocolFolder(in: unbrokenOut)
        #expect(protocolFolder.hasPrefix("smoke@"))
        let folder = URL(fileURLWithPath: killedOut).appendingPathComponent("\(protocolFolder)/lucir+aanets")
        let checkpoint = folder.appendingPathComponent("seed-1993.checkpoint")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: checkpoint.path) && victim.isRunning && Date() < deadline { usleep(5_000) }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal, "the run finished before it could be killed; make the test protocol longer")
        let bundle = folder.appendingPathComponent("seed-1993.tar.zst")
        #expect(!FileManager.default.fileExists(atPath: bundle.path), "a killed run must not leave a bundle")

        let (resumed, err) = try Self.start(["--out", killedOut, "--resume"])
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0)
        #expect(log.contains("resuming after phase"))

        let a = try ResultBundle.read(path: URL(fileURLWithPath: unbrokenOut).appendingPathComponent("\(protocolFolder)/lucir+aanets/seed-1993.tar.zst").path)
        let b = try ResultBundle.read(path: bundle.path)
        #expect(a.phases.map(\.parameterDigest) == b.phases.map(\.parameterDigest))
        #expect(a.phases.map(\.exemplarDigest) == b.phases.map(\.exemplarDigest))
        #expect(a.phases.map(\.predictionDigest) == b.phases.map(\.predictionDigest))
        #expect(a.cnn == b.cnn && a.nme == b.nme)
        #expect(!FileManager.default.fileExists(atPath: checkpoint.path), "the checkpoint is removed once the bundle is written")
    }

    /// A checkpoint written under some kernels and threads does not resume under others: one
    /// error line naming the checkpoint and what differs, exit 2, the checkpoint kept; the
    /// same kernels and threads then resume it.
    @Test func resumeUnderOtherKernelsOrThreadsIsRefused() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-resume-kernels-\(getpid())").path
        try? FileManager.default.removeItem(atPath: out)
        defer { try? FileManager.default.removeItem(atPath: out) }
        let onednn = ["CILBENCH_CONV3X3": "onednn"]
        let (victim, _) = try Self.start(["--out", out, "--threads", "1"], environment: onednn)
        let deadline = Date().addingTimeInterval(120)
        var checkpoint: URL?
        while checkpoint == nil && victim.isRunning && Date() < deadline {
            if let folder = try? Self.protocolFolder(in: out) {
                let url = URL(fileURLWithPath: out).appendingPathComponent("\(folder)/lucir+aanets/seed-1993.checkpoint")
                if FileManager.default.fileExists(atPath: url.path) { checkpoint = url }
            }
            usleep(5_000)
        }
        kill(victim.processIdentifier, SIGKILL)
        victim.waitUntilExit()
        #expect(victim.terminationReason == .uncaughtSignal, "the run finished before it could be killed; make the test protocol longer")
        let written = try #require(checkpoint, "no checkpoint appeared")

        // `direct` (cilbench's AVX2 kernels) and `onednn` differ on any AVX2 CPU.
        for (arguments, environment, difference) in [(["--threads", "1"], ["CILBENCH_CONV3X3": "direct"], "conv3x3_kernel onednn (now cilbench-avx2-fma)"),
                                                     (["--threads", "2"], onednn, "threads 1 (now 2)")] {
            let (refused, err) = try Self.start(["--out", out, "--resume"] + arguments, environment: environment)
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            refused.waitUntilExit()
            #expect(refused.terminationStatus == 2, "\(log)")
            let errors = log.split(separator: "\n").filter { $0.hasPrefix("error:") }
            #expect(errors.count == 1 && errors[0].contains(written.path) && errors[0].contains("written with \(difference)"), "\(log)")
            #expect(!log.contains("phase 1/"), "a refused resume must not train: \(log)")
            #expect(FileManager.default.fileExists(atPath: written.path), "a refused resume must keep the checkpoint")
        }
        let (resumed, err) = try Self.start(["--out", out, "--resume", "--threads", "1"], environment: onednn)
        let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        resumed.waitUntilExit()
        #expect(resumed.terminationStatus == 0, "\(log)")
        #expect(log.contains("resuming after phase"), "\(log)")
    }

    /// LUCIR, iCaRL and LUCIR+AANets share phase 0: the second and third runs take it from
    /// the content-addressed cache and their phase-0 digests equal the first run's.
    @Test func methodsWithTheSamePhaseZeroShareIt() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-phase0-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        var digests: [UInt64] = []
        for (i, method) in [["--method", "lucir"], ["--method", "icarl"], ["--method", "lucir", "--aanets"]].enumerated() {
            let (process, err) = try Self.start(["--out", out], method: method, settings: [])
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(log.contains("phase 0 from the cache") == (i > 0), "run \(i): \(log.suffix(300))")
            let label = method.count == 3 ? "lucir+aanets" : method[1]
            let result = try ResultBundle.read(path: "\(out)/smoke/\(label)/seed-1993.tar.zst")
            digests.append(result.phases[0].parameterDigest)
        }
        #expect(Set(digests).count == 1)
    }

    /// The phase-0 cache is keyed by the kernels too: a run whose 3x3 convolutions run on
    /// other kernels (`CILBENCH_CONV3X3`) trains its own phase 0 instead of taking one whose
    /// last bits those kernels would not give, and a run on the first run's kernels still
    /// takes the first run's.
    @Test func anotherConvolutionKernelDoesNotTakeTheCachedPhaseZero() throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-phase0-kernels-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        // `direct` (cilbench's AVX2 kernels) and `onednn` differ on any AVX2 CPU.
        let runs: [([String], [String: String], Bool)] = [
            (["--method", "lucir"], ["CILBENCH_CONV3X3": "onednn"], false),
            (["--method", "icarl"], ["CILBENCH_CONV3X3": "direct"], false),
            (["--method", "lucir", "--aanets"], ["CILBENCH_CONV3X3": "onednn"], true),
        ]
        for (i, (method, environment, cached)) in runs.enumerated() {
            let (process, err) = try Self.start(["--out", out], method: method, settings: [], environment: environment)
            let log = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0)
            #expect(log.contains("phase 0 from the cache") == cached, "run \(i): \(log.suffix(300))")
        }
    }
}

/// `cilbench run` refuses bad input with one error line and exit code 2, before training.
@Suite(.enabled(if: cilbench != nil, "cilbench executable not found next to the test bundle"))
struct RunCommandErrorTests {
    static func run(_ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = Process()
        process.executableURL = cilbench!.executable
        process.arguments = ["run", "--protocols", cilbench!.protocols] + arguments
        let err = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = err
        try process.run()
        let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, text)
    }

    @Test(arguments: [
        (["smoke", "--method", "nope"], "unknown method 'nope'"),
        (["nope", "--method", "lucir"], "unknown protocol"),
        (["smoke", "--method", "lucir", "--set", "classes.base=3"], "do not divide"),
        (["smoke", "--method", "lucir", "--out", "/proc/cilbench-cannot-write"], "cannot create the output folder"),
        (["cifar100-b50-5", "--method", "lucir", "--data-root", "/nonexistent-cilbench"], "/nonexistent-cilbench"),
    ])
    func badInputIsOneErrorLine(arguments: [String], message: String) throws {
        let (status, stderr) = try Self.run(arguments)
        #expect(status == 2)
        let lines = stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && stderr.contains(message), "\(stderr)")
    }
}
