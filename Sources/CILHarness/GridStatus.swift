import Foundation

/// What a grid worker last said about its cell, in `<bundle folder>/seed-<n>.grid-status.json`
/// beside the bundle: written (temporary name, then rename) when the cell starts, after every
/// epoch and phase, and when it fails or is stopped. `grid status` reads these files and the
/// bundles and checkpoints, so it works from any machine that sees `--out` (a shared
/// filesystem), with no daemon.
public struct GridCellStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case running, failed, stopped }

    public var state: State
    public var host: String
    public var pid: Int32
    /// `<array job>_<task>` (or the job id) when Slurm runs the cell.
    public var slurmJob: String?
    public var threads: Int
    public var startedAt: Date
    public var updatedAt: Date
    /// The phase being trained (0-based) and of how many.
    public var phase: Int
    public var phases: Int
    /// Epochs finished in that phase, and of how many.
    public var epochsDone: Int
    public var epochs: Int
    /// Wall seconds of the last epoch: how long until the next update at most, roughly.
    public var lastEpochSeconds: Double
    /// Wall seconds this cell has trained over all its attempts (resumed runs add theirs).
    public var secondsSpent: Double
    /// The error line of a failed attempt.
    public var error: String?

    public init(state: State, host: String, pid: Int32, slurmJob: String?, threads: Int, startedAt: Date, updatedAt: Date, phase: Int, phases: Int,
                epochsDone: Int, epochs: Int, lastEpochSeconds: Double, secondsSpent: Double, error: String?) {
        self.state = state
        self.host = host
        self.pid = pid
        self.slurmJob = slurmJob
        self.threads = threads
        self.startedAt = startedAt
        self.updatedAt = updatedAt
        self.phase = phase
        self.phases = phases
        self.epochsDone = epochsDone
        self.epochs = epochs
        self.lastEpochSeconds = lastEpochSeconds
        self.secondsSpent = secondsSpent
        self.error = error
    }

    public static func read(_ url: URL) -> GridCellStatus? {
        guard let data = FileManager.default.contents(atPath: url.path) else { return nil }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try? decoder.decode(GridCellStatus.self, from: data)
    }

    public func write(_ url: URL) throws {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try encoder.encode(self), to: url)
    }

    /// This machine's short host name (as `hostname -s`).
    public static var hostName: String {
        let full = ProcessInfo.processInfo.hostName
        return String(full.split(separator: ".").first ?? Substring(full))
    }
}

/// A cell's state as read from disk.
public enum GridCellState: Sendable, Equatable {
    /// The bundle exists and reads back; its measured wall seconds per phase (a phase 0
    /// taken from the cache shows its producer's time) and threads.
    case done(phaseSeconds: [Double], threads: Int)
    /// A worker is on it (its process is alive, or its last update is recent).
    case running(GridCellStatus)
    /// Stopped or killed after `finishedPhases` phases; the next run resumes there.
    case interrupted(finishedPhases: Int, phases: Int, status: GridCellStatus?)
    /// The last attempt failed with this error line.
    case failed(String, GridCellStatus)
    case pending
    /// A file at the bundle's path that does not read as a bundle.
    case unreadableBundle(String)

    public var label: String {
        switch self {
        case .done: "done"
        case .running: "running"
        case .interrupted: "interrupted"
        case .failed: "failed"
        case .pending: "pending"
        case .unreadableBundle: "bad bundle"
        }
    }
}

public enum GridStatus {
    /// Reads a cell's files under `out`. `now` and the liveness probe are parameters so
    /// tests can pin them.
    public static func state(of cell: GridCell, out: URL, now: Date = Date(), isAlive: (Int32) -> Bool = processIsAlive) -> GridCellState {
        let bundle = cell.bundleURL(out: out)
        if FileManager.default.fileExists(atPath: bundle.path) {
            do {
                let result = try ResultBundle.read(path: bundle.path)
                return .done(phaseSeconds: result.phases.map(\.wallSeconds), threads: Int(result.environment["threads"] ?? "") ?? 1)
            } catch {
                return .unreadableBundle(error.description)
            }
        }
        let status = GridCellStatus.read(cell.statusURL(out: out))
        let phases = cell.protocolFile.phases.phaseCount
        if let status {
            switch status.state {
            case .failed: return .failed(status.error ?? "unknown error", status)
            case .running:
                if status.host == GridCellStatus.hostName {
                    if isAlive(status.pid) { return .running(status) }
                } else {
                    // Another node: alive while it keeps writing. An epoch can take long,
                    // so allow three of the last one, and at least ten minutes.
                    let patience = max(600, 3 * status.lastEpochSeconds)
                    if now.timeIntervalSince(status.updatedAt) < patience { return .running(status) }
                }
                return .interrupted(finishedPhases: status.phase, phases: phases, status: status)
            case .stopped:
                return .interrupted(finishedPhases: status.phase, phases: phases, status: status)
            }
        }
        if FileManager.default.fileExists(atPath: cell.checkpointURL(out: out).path) {
            return .interrupted(finishedPhases: 0, phases: phases, status: nil)
        }
        return .pending
    }

    /// Whether a process with this id exists on this machine and is a cilbench.
    public static func processIsAlive(_ pid: Int32) -> Bool {
        guard pid > 0, kill(pid, 0) == 0 || errno == EPERM else { return false }
        guard let command = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return true }
        return String(decoding: command, as: UTF8.self).contains("cilbench")
    }

    /// CPU-hours a cell has used so far: measured for done cells, the workers' account of
    /// their attempts otherwise.
    public static func cpuHoursSpent(_ state: GridCellState) -> Double {
        switch state {
        case .done(let phases, let threads): phases.reduce(0, +) * Double(threads) / 3600
        case .running(let s), .failed(_, let s): s.secondsSpent * Double(s.threads) / 3600
        case .interrupted(_, _, let s): s.map { $0.secondsSpent * Double($0.threads) / 3600 } ?? 0
        case .pending, .unreadableBundle: 0
        }
    }

    /// One line about a cell's state, as `grid status` prints it.
    public static func describe(_ state: GridCellState, now: Date = Date()) -> String {
        func ago(_ date: Date) -> String { clock(now.timeIntervalSince(date)) + " ago" }
        switch state {
        case .done(let phases, let threads): return "done (\(clock(phases.reduce(0, +))) on \(threads) threads)"
        case .running(let s):
            var line = "running: phase \(s.phase + 1)/\(s.phases), epoch \(s.epochsDone)/\(s.epochs) done, on \(s.host) pid \(s.pid)"
            if let job = s.slurmJob { line += " (Slurm \(job))" }
            return line + ", updated \(ago(s.updatedAt))"
        case .interrupted(let finished, let phases, let s):
            var line = "interrupted after phase \(finished)/\(phases) (runs again from there)"
            if let s { line += ", last seen on \(s.host) \(ago(s.updatedAt))" }
            return line
        case .failed(let error, let s): return "failed on \(s.host) \(ago(s.updatedAt)): \(error)"
        case .pending: return "pending"
        case .unreadableBundle(let why): return "bad bundle: \(why)"
        }
    }

    public static func clock(_ seconds: Double) -> String {
        let s = Int(max(0, seconds).rounded())
        return String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60)
    }
}
