import CILHarness
import Foundation

/// Runs one grid cell in this process through the harness's `RunExecution` (the path
/// `cilbench run --resume` takes, so the bundle is the one `run` writes), keeping the
/// cell's status file beside its bundle up to date for `grid status`: running (phase,
/// epoch), failed (the error line) or stopped (SIGTERM/SIGINT: Slurm's time-limit signal,
/// scancel, Ctrl-C). A cell whose bundle exists and reads back is done at once.
enum GridCellWorker {
    static func run(_ cell: GridCell, out: URL, threads: Int, dataRoot: String?) throws -> URL {
        let bundle = cell.bundleURL(out: out)
        if FileManager.default.fileExists(atPath: bundle.path), (try? ResultBundle.read(path: bundle.path)) != nil {
            FileHandle.standardError.write(Data("cell \(cell.index) (\(cell.id)) is done already\n".utf8))
            return bundle
        }
        let statusURL = cell.statusURL(out: out)
        let previous = GridCellStatus.read(statusURL)
        let env = ProcessInfo.processInfo.environment
        let job = env["SLURM_ARRAY_JOB_ID"].map { "\($0)_\(env["SLURM_ARRAY_TASK_ID"] ?? "")" } ?? env["SLURM_JOB_ID"]
        let training = cell.protocolFile.settings(forMethod: cell.method).training
        let now = Date()
        let tracker = StatusTracker(url: statusURL, status: GridCellStatus(
            state: .running, host: GridCellStatus.hostName, pid: getpid(), slurmJob: job, threads: threads, startedAt: now, updatedAt: now,
            phase: 0, phases: cell.protocolFile.phases.phaseCount, epochsDone: 0, epochs: training.epochs(phase: 0), lastEpochSeconds: 0,
            secondsSpent: previous?.secondsSpent ?? 0, error: nil))
        let stopSources = tracker.stopOnSignals()
        defer { stopSources.forEach { $0.cancel() } }

        let progress = ProgressReporter()
        do {
            let execution = try GridRunPath.start(cell, out: out, threads: threads, dataRoot: dataRoot) { event in
                switch event {
                case .progress(let e):
                    progress.handle(e)
                    tracker.update { status in
                        switch e {
                        case .phaseStarted(let phase, let phases, _):
                            status.phase = phase
                            status.phases = phases
                            status.epochsDone = 0
                            status.epochs = training.epochs(phase: phase)
                        case .epochFinished(let phase, let record, let epochs):
                            status.phase = phase
                            status.epochsDone = record.epoch + 1
                            status.epochs = epochs
                            status.lastEpochSeconds = record.seconds
                        case .phaseFinished(let outcome):
                            status.phase = outcome.phase + 1
                            status.epochsDone = 0
                        }
                    }
                case .resumed(let finished):
                    tracker.update { $0.phase = finished }
                case .note(let line):
                    FileHandle.standardError.write(Data((line + "\n").utf8))
                }
            }
            tracker.update { _ in }
            let written = try execution()
            tracker.finish()
            return written
        } catch {
            // Another worker holds the cell (a duplicate task): its status stays as it is.
            if let busy = error as? RunExecutionError, case .busy = busy { throw error }
            tracker.fail("\(error)")
            throw error
        }
    }
}

/// The cell's status file, written under a lock: the training thread updates it, a signal
/// handler may mark it stopped.
final class StatusTracker: @unchecked Sendable {
    private let lock = NSLock()
    private let url: URL
    private var status: GridCellStatus
    private let attemptStarted = Date()
    private let spentBefore: Double
    private var closed = false

    init(url: URL, status: GridCellStatus) {
        self.url = url
        self.status = status
        spentBefore = status.secondsSpent
    }

    func update(_ change: (inout GridCellStatus) -> Void) {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        change(&status)
        writeLocked()
    }

    private func writeLocked() {
        status.updatedAt = Date()
        status.secondsSpent = spentBefore + status.updatedAt.timeIntervalSince(attemptStarted)
        // The status is for watching only: a failed write must not stop the run.
        try? status.write(url)
    }

    func fail(_ error: String) {
        lock.lock(); defer { lock.unlock() }
        guard !closed else { return }
        status.state = .failed
        status.error = error.split(separator: "\n").first.map(String.init) ?? error
        writeLocked()
        closed = true
    }

    /// The bundle is written: it is the record now, the status file goes.
    func finish() {
        lock.lock(); defer { lock.unlock() }
        closed = true
        try? FileManager.default.removeItem(at: url)
    }

    /// On SIGTERM or SIGINT: mark the cell stopped and exit. Checkpoints and bundles are
    /// written under temporary names and renamed, so stopping at any instant leaves
    /// nothing that looks finished; the next run resumes after the last finished phase.
    func stopOnSignals() -> [DispatchSourceSignal] {
        [SIGTERM, SIGINT].map { number in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [self] in
                lock.lock()
                if !closed {
                    status.state = .stopped
                    writeLocked()
                    closed = true
                }
                lock.unlock()
                FileHandle.standardError.write(Data("stopped by signal \(number); the cell resumes after its last finished phase when run again\n".utf8))
                _exit(128 + number)
            }
            source.resume()
            return source
        }
    }
}
