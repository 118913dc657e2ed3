import ArgumentParser
import CILHarness
import Foundation

/// `cilbench grid run`: the grid's cells on a local pool of worker processes (each one
/// `cilbench grid cell`), producers of a shared phase 0 first, finished cells skipped,
/// interrupted ones resumed. Ctrl-C stops every worker (each marks its cell stopped); the
/// same command continues.
struct GridRunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a grid's cells on a local pool of worker processes; running it again continues.")

    @OptionGroup var options: GridOptions
    @Option(help: "Worker processes (cells at a time).") var jobs = 1

    struct Worker {
        let slot: Int
        let cell: GridCell
        let process: Process
        let started: Date
        var lastLine = ""
    }

    func run() throws {
        guard jobs >= 1, jobs <= 1024 else { throw failure("--jobs must be from 1 to 1024, not \(jobs)") }
        let plan = try options.plan()
        let out = options.outURL
        do { try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true) } catch {
            throw failure("\(out.path): cannot create the output folder")
        }
        let throughput = try? GridEstimate.Throughput.cached(threads: options.threads, measureIfMissing: false)
        let costs = GridCosts(plan: plan, out: out, throughput: throughput)
        var finished = Set(plan.cells.indices.filter { if case .done = costs.states[$0] { return true } else { return false } })
        var failed: Set<Int> = []
        // Producers first, then the rest, each in index order.
        var queue = (plan.producers + plan.followers).filter { !finished.contains($0) }
        print("grid \(plan.grid.name): \(plan.cells.count) cells, \(finished.count) done, \(queue.count) to run on \(jobs) worker\(jobs == 1 ? "" : "s") × \(threadCount(options.threads)); logs beside the bundles under \(out.path)")
        guard !queue.isEmpty else { return }

        let stop = StopFlag()
        let sources = [SIGINT, SIGTERM].map { number -> DispatchSourceSignal in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { stop.set() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }

        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var workers: [Worker] = []
        var measuredSeconds = 0.0, modelledSeconds = 0.0
        let started = Date()
        var stopping = false

        func line(_ text: String) { print(text); fflush(nil) }
        var finishedWall: [Double] = []
        func eta() -> String {
            guard let model = costs.model else {
                // No throughput cached: the mean wall time of the cells finished so far.
                guard !finishedWall.isEmpty else { return "ETA unknown" }
                let mean = finishedWall.reduce(0, +) / Double(finishedWall.count)
                return "ETA \(GridStatus.clock(mean * Double(queue.count + workers.count) / Double(jobs)))"
            }
            let ratio = modelledSeconds > 0 ? measuredSeconds / modelledSeconds : costs.calibration
            _ = model
            var left = queue.compactMap { costs.seconds($0) }.reduce(0, +)
            for w in workers {
                let phase = GridCellStatus.read(w.cell.statusURL(out: out))?.phase ?? 0
                left += costs.seconds(w.cell.index, fromPhase: phase) ?? 0
            }
            return "ETA \(GridStatus.clock(left / costs.calibration * ratio / Double(jobs)))"
        }

        while !(queue.isEmpty && workers.isEmpty) {
            if stop.isSet && !stopping {
                stopping = true
                line("stopping: telling \(workers.count) workers to stop after writing their state; run the same command again to continue")
                for w in workers { kill(w.process.processIdentifier, SIGTERM) }
            }
            // Reap finished workers.
            let ended = workers.filter { !$0.process.isRunning }
            workers.removeAll { w in ended.contains { $0.slot == w.slot } }
            for w in ended {
                let code = w.process.terminationStatus
                if code == 0, FileManager.default.fileExists(atPath: w.cell.bundleURL(out: out).path) {
                    finished.insert(w.cell.index)
                    let took = Date().timeIntervalSince(w.started)
                    finishedWall.append(took)
                    let first = GridCosts.firstOwnPhase(plan, w.cell.index)
                    if let model = costs.model, let seconds = GridCosts.measuredSeconds(GridStatus.state(of: w.cell, out: out), firstPhase: first) {
                        measuredSeconds += seconds
                        modelledSeconds += model[w.cell.index].phaseSeconds.dropFirst(first).reduce(0, +)
                    }
                    line("[worker \(w.slot)] cell \(w.cell.index) \(w.cell.id): done in \(GridStatus.clock(took))  | \(finished.count)/\(plan.cells.count) done, \(eta())")
                } else if !stopping {
                    failed.insert(w.cell.index)
                    let why = GridCellStatus.read(w.cell.statusURL(out: out))?.error ?? "exit \(code); see \(w.cell.logURL(out: out).path)"
                    line("[worker \(w.slot)] cell \(w.cell.index) \(w.cell.id): FAILED: \(why)")
                }
            }
            if stopping && workers.isEmpty { break }
            // Start cells whose phase 0 is ready, while slots are free.
            while !stopping && workers.count < jobs {
                let running = Set(workers.map(\.cell.index))
                guard let next = queue.firstIndex(where: { index in
                    guard let producer = plan.producer(of: index) else { return true }
                    return finished.contains(producer) || failed.contains(producer) || (!running.contains(producer) && !queue.contains(producer))
                }) else { break }
                let cell = plan.cells[queue.remove(at: next)]
                let slot = (1...jobs).first { s in !workers.contains { $0.slot == s } } ?? 1
                let process = Process()
                process.executableURL = executable
                var arguments = ["grid", "cell", try options.gridPath(), "--index", String(cell.index), "--out", out.path,
                                 "--threads", String(options.threads), "--protocols", GridOptions.absolute(options.library.directory)]
                if let root = options.dataRoot { arguments += ["--data-root", root] }
                process.arguments = arguments
                var environment = ProcessInfo.processInfo.environment
                environment["OMP_NUM_THREADS"] = String(options.threads)
                process.environment = environment
                let log = cell.logURL(out: out)
                try? FileManager.default.createDirectory(at: log.deletingLastPathComponent(), withIntermediateDirectories: true)
                if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
                guard let handle = FileHandle(forWritingAtPath: log.path) else { throw failure("\(log.path): cannot write the cell's log") }
                handle.seekToEndOfFile()
                process.standardOutput = handle
                process.standardError = handle
                process.standardInput = FileHandle.nullDevice
                do { try process.run() } catch { throw failure("cannot start a worker (\(executable.path)): \(error)") }
                try? handle.close()
                workers.append(Worker(slot: slot, cell: cell, process: process, started: Date()))
                line("[worker \(slot)] cell \(cell.index) \(cell.id): started\(plan.producer(of: cell.index).map { " (phase 0 from cell \($0))" } ?? "")")
            }
            // One progress line per worker when its phase or epoch moves.
            for i in workers.indices {
                guard let s = GridCellStatus.read(workers[i].cell.statusURL(out: out)), s.state == .running else { continue }
                let text = "phase \(s.phase + 1)/\(s.phases) epoch \(s.epochsDone)/\(s.epochs)"
                if text != workers[i].lastLine {
                    workers[i].lastLine = text
                    line("[worker \(workers[i].slot)] cell \(workers[i].cell.index) \(workers[i].cell.id): \(text), \(GridStatus.clock(Date().timeIntervalSince(workers[i].started)))  | \(finished.count)/\(plan.cells.count) done, \(eta())")
                }
            }
            if queue.isEmpty && workers.isEmpty { break }
            usleep(200_000)
        }
        let wall = GridStatus.clock(Date().timeIntervalSince(started))
        if stopping {
            line("stopped after \(wall): \(finished.count)/\(plan.cells.count) done; `cilbench grid run` again continues")
            throw ExitCode(130)
        }
        line("grid \(plan.grid.name): \(finished.count)/\(plan.cells.count) done, \(failed.count) failed, wall \(wall)")
        if !failed.isEmpty { throw ExitCode(1) }
    }
}

/// Set from a signal handler's queue, read by the pool's loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}

// MARK: slurm

struct GridSlurmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slurm",
        abstract: "Write the grid's sbatch script (phase-0 producers as a first job array, the other cells as a second depending on it); --submit submits it.")

    @OptionGroup var options: GridOptions
    @Option(help: "Slurm partition.") var partition: String?
    @Option(help: "Time limit per task, as sbatch --time (e.g. 12:00:00 or 2-00:00:00).") var time: String?
    @Option(help: "CPUs per task (the cells' threads; overrides --threads).") var cpusPerTask: Int?
    @Option(help: "Memory per task, as sbatch --mem (e.g. 8G).") var mem: String?
    @Option(help: "At most this many tasks of each array at a time (the %K throttle).") var maxParallel = 8
    @Option(help: "Slurm account.") var account: String?
    @Option(help: "Another sbatch option, written as an #SBATCH line (repeatable), e.g. --extra '--qos=long'.") var extra: [String] = []
    @Option(help: "Where to write the script (default: <out>/.grid/<grid>/<grid>.sbatch).") var script: String?
    @Flag(help: "Submit the two arrays with sbatch and print their job ids.") var submit = false

    func run() throws {
        var options = self.options
        if let cpusPerTask { options.threads = cpusPerTask }
        let plan = try options.plan()
        let throughput = try? GridEstimate.Throughput.cached(threads: options.threads, measureIfMissing: false)
        let costs = GridCosts(plan: plan, out: options.outURL, throughput: throughput)
        let estimate = costs.model.map { model in
            (cpuHours: plan.cells.indices.compactMap { costs.cpuHours($0) }.reduce(0, +),
             longestCellHours: (model.map(\.seconds).max() ?? 0) * costs.calibration / 3600,
             longestPhaseHours: (model.flatMap(\.phaseSeconds).max() ?? 0) * costs.calibration / 3600)
        }
        let scriptOptions = SlurmScript.Options(
            partition: partition, time: time, cpusPerTask: options.threads, memory: mem, maxParallel: maxParallel, account: account, extra: extra,
            executable: URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().path, gridPath: GridOptions.absolute(try options.gridPath()),
            out: options.outURL.path, protocols: GridOptions.absolute(options.library.directory), dataRoot: options.dataRoot.map(GridOptions.absolute))
        let slurm: SlurmScript
        do { slurm = try SlurmScript(plan: plan, options: scriptOptions, estimate: estimate) } catch { throw failure(error.description) }
        if let limit = time.flatMap(SlurmScript.seconds(ofSlurmTime:)), limit > 0, let longest = estimate?.longestPhaseHours, longest * 3600 > Double(limit) {
            FileHandle.standardError.write(Data("warning: the longest phase is estimated at \(hours(longest)) h, above --time \(time!): such a cell would be requeued forever\n".utf8))
        }
        var sbatch: String?
        if submit {
            sbatch = Self.which("sbatch")
            guard sbatch != nil else { throw failure("sbatch not found on PATH: nothing submitted (write the script without --submit and submit it where Slurm is)") }
        }
        let path = script ?? "\(slurm.logFolder)/\(plan.grid.name).sbatch"
        do {
            try FileManager.default.createDirectory(atPath: slurm.logFolder, withIntermediateDirectories: true)
            try AtomicFile.write(Data(slurm.text.utf8), to: URL(fileURLWithPath: path))
            chmod(path, 0o755)
        } catch {
            throw failure("\(path): cannot write the script: \(error)")
        }
        print("wrote \(path): \(plan.cells.count) cells, producers [\(slurm.producerArray)], then [\(slurm.followerArray)]\(estimate.map { ", estimate \(hours($0.cpuHours)) CPU-hours" } ?? "")")
        guard let sbatch else {
            print("submit with: bash \(path)")
            return
        }
        var dependency: [String] = []
        if !plan.producers.isEmpty {
            let id = try Self.sbatch(sbatch, ["--parsable", "--array=\(slurm.producerArray)%\(maxParallel)", path])
            print("submitted phase-0 producers: job \(id) (cells \(slurm.producerArray))")
            dependency = ["--dependency=afterany:\(id)"]
        }
        if !plan.followers.isEmpty {
            let id = try Self.sbatch(sbatch, ["--parsable"] + dependency + ["--array=\(slurm.followerArray)%\(maxParallel)", path])
            print("submitted cells: job \(id) (cells \(slurm.followerArray))")
        }
    }

    static func which(_ name: String) -> String? {
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    /// Runs sbatch and returns the job id it prints (`--parsable`: `<id>[;cluster]`).
    static func sbatch(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        do { try process.run() } catch { throw failure("cannot run \(executable): \(error)") }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let id = text.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        guard process.terminationStatus == 0, !id.isEmpty else {
            throw failure("sbatch \(arguments.joined(separator: " ")) failed: \(problem.trimmingCharacters(in: .whitespacesAndNewlines))")
        }
        return id
    }
}
