import CILData
import CILKernels
import CILMethods
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// What to run: a resolved protocol, a method (± AANets), a seed, the data and the threads.
public struct RunRequest: Sendable {
    public var protocolFile: CILProtocol
    public var method: String
    public var aanets: Bool
    public var seed: UInt64
    public var dataRoot: String?
    public var threads: Int

    public init(protocol file: CILProtocol, method: String, aanets: Bool, seed: UInt64, dataRoot: String?, threads: Int) {
        protocolFile = file
        self.method = method
        self.aanets = aanets
        self.seed = seed
        self.dataRoot = dataRoot
        self.threads = threads
    }

    /// `lucir` or `lucir+aanets`, as in paths and tables.
    public var variant: String { aanets ? "\(method)+aanets" : method }
}

/// The whole life of one run, the one path every front end (`cilbench run`, `replay`, the
/// grid) takes: checks of the output folder and a lock on the run's cell before any
/// training; resume from the run's checkpoint or phase 0 from the shared cache; the phases,
/// with a checkpoint written after each (a failed write ends the run at once with its
/// error, since every later phase would be lost to a kill anyway and a full disk would also
/// fail the bundle); the bundle written under a temporary name and renamed; the checkpoint
/// removed. Progress is reported to an observer that cannot fail; everything that can fail
/// throws from `execute()`.
///
/// Without an output folder nothing is written or read besides the data (replay).
public final class RunExecution {
    public struct Options: Sendable {
        /// Continue from the checkpoint of an earlier run of the same cell and settings.
        public var resume = false
        /// Take phase 0 from `<out>/.phase0-cache` when an entry for it exists.
        public var phaseZeroCache = true
        /// Record every kernel call into the bundle's trace (trains every phase).
        public var trace = false
        /// The code that runs: recorded in the manifest, part of the phase-0 cache key.
        public var build: BuildIdentity
        /// The run's engine claims the process's thread configuration (`ComputeEngine`'s
        /// `exclusive`): no engine of another thread count may run beside it. Tests that
        /// share one process with engines of other counts turn it off.
        public var exclusiveEngine: Bool

        public init(resume: Bool = false, phaseZeroCache: Bool = true, trace: Bool = false, build: BuildIdentity, exclusiveEngine: Bool = true) {
            self.exclusiveEngine = exclusiveEngine
            self.resume = resume
            self.phaseZeroCache = phaseZeroCache
            self.trace = trace
            self.build = build
        }
    }

    /// What happens, for progress displays and logs. Observers cannot fail the run.
    public enum Event {
        /// The runner's own progress (phase started, epoch finished, phase finished).
        case progress(RunEvent)
        case resumed(finishedPhases: Int, phases: Int, checkpoint: String)
        case phaseZeroFromCache(path: String)
        /// A cache entry that could not be used (damaged, other code); phase 0 trains.
        case cacheEntryIgnored(path: String, reason: String)
        /// The cache entry could not be written; the run goes on (the cache is optional).
        case cacheWriteFailed(path: String, reason: String)
        case checkpointWritten(phase: Int, path: String)
        /// A bundle of the same cell with the same settings is replaced by this run.
        case replacingBundle(path: String)
        case traceRecorded(calls: Int, bytes: Int, compressedBytes: Int)
        case bundleWritten(path: String)
    }

    /// The result and, for runs with an output folder, where its bundle was written.
    public struct Outcome {
        public let bundleURL: URL?
        public let result: RunResult
    }

    public let request: RunRequest
    public let options: Options
    public let engine: ComputeEngine
    public let plan: RunPlan
    public let runner: Runner
    /// `<out>` as given; nil for a run that writes nothing.
    public let outputFolder: URL?
    /// Where the bundle goes (`bundleURL(out:…)`), nil without an output folder.
    public let bundleURL: URL?
    public let checkpointURL: URL?
    public let phaseZeroKey: String
    public var phaseZeroURL: URL? {
        outputFolder?.appendingPathComponent(".phase0-cache").appendingPathComponent("\(phaseZeroKey).checkpoint")
    }
    /// Looks at every `RunMark` and may stop the run by throwing (replay's comparison).
    public var watcher: ((RunMark) throws -> Void)? {
        get { runner.onMark }
        set { runner.onMark = newValue }
    }

    private let observer: ((Event) -> Void)?
    private var lock: CellLock?
    private var recorder: KernelTrace.Recorder?

    /// Checks the request and the output folder (creates it, checks it is writable, locks
    /// the run's cell, refuses to replace a bundle of other settings), then loads the data
    /// and builds the engine, plan and runner. Nothing trains yet.
    public init(request: RunRequest, outputFolder: URL?, options: Options, observer: ((Event) -> Void)? = nil) throws {
        if options.trace && options.resume {
            throw RunExecutionError.invalidOptions("a trace records every kernel call of the run, so it cannot resume one")
        }
        try Self.checkSafeName(request.protocolFile.name)
        // An unknown method or a bad method setting is refused before any folder is made.
        _ = try RunPlan.makeMethod(request.method, protocol: request.protocolFile)
        guard (1...ComputeEngine.maximumThreads).contains(request.threads) else {
            throw RunExecutionError.invalidOptions("threads must be between 1 and \(ComputeEngine.maximumThreads) (this machine's CPU count), got \(request.threads)")
        }
        self.request = request
        self.options = options
        self.observer = observer
        self.outputFolder = outputFolder
        var created: [URL] = []
        var lock: CellLock?
        if let outputFolder {
            let bundle = Self.bundleURL(out: outputFolder, protocol: request.protocolFile, method: request.method, aanets: request.aanets, seed: request.seed)
            let folder = bundle.deletingLastPathComponent()
            // The folders this run creates, deepest first, so a run refused before training
            // leaves nothing behind.
            var missing = folder
            while !FileManager.default.fileExists(atPath: missing.path), missing.path != "/" {
                created.append(missing)
                missing = missing.deletingLastPathComponent()
            }
            do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
                throw HarnessError.unwritable(folder.path, reason: "cannot create the output folder")
            }
            bundleURL = bundle
            checkpointURL = folder.appendingPathComponent("seed-\(request.seed).checkpoint")
        } else {
            bundleURL = nil
            checkpointURL = nil
        }
        do {
            if let bundleURL, let outputFolder {
                let folder = bundleURL.deletingLastPathComponent()
                guard access(folder.path, W_OK) == 0 else { throw HarnessError.unwritable(folder.path, reason: "the output folder is not writable") }
                lock = try CellLock(url: folder.appendingPathComponent(".seed-\(request.seed).lock"))
                // Temporary files of this cell left by a killed run: no writer holds them now.
                let prefix = ".seed-\(request.seed)."
                for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] where name.hasPrefix(prefix) && name.contains(".partial-") {
                    try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
                }
                if try Self.checkReplaceable(bundleURL, request: request, outputFolder: outputFolder) { observer?(.replacingBundle(path: bundleURL.path)) }
            }
            engine = try ComputeEngine(threads: request.threads, exclusive: options.exclusiveEngine)
            plan = try RunPlan(protocol: request.protocolFile, method: request.method, aanets: request.aanets, seed: request.seed,
                               dataRoot: request.dataRoot, threads: request.threads,
                               // Folder datasets keep their digest (and measured statistics) beside the runs.
                               datasetCache: outputFolder?.appendingPathComponent(".dataset-cache").path)
            runner = try Runner(configuration: plan.configuration, method: plan.method, engine: engine)
        } catch {
            if let lock, lock.owns { lock.remove() }
            for folder in created { rmdir(folder.path) }
            throw error
        }
        self.lock = lock
        phaseZeroKey = plan.phaseZeroKey(threads: request.threads, build: options.build.cacheKey)
        if options.trace {
            let recorder = KernelTrace.Recorder()
            self.recorder = recorder
            engine.observer = recorder
        }
        runner.onEvent = observer.map { observe in { observe(.progress($0)) } }
    }

    deinit { lock?.release() }

    /// Trains every phase not yet finished, writes the bundle (with an output folder) and
    /// returns the result.
    public func execute() throws -> Outcome {
        defer { lock?.release(); lock = nil }
        try restore()
        let started = Date()
        let phases = plan.configuration.schedule.phaseCount
        while runner.records.count < phases {
            let outcome = try runner.runNextPhase()
            try saveCheckpoint(after: outcome.phase)
        }
        var result = try Self.result(plan: plan, records: runner.records, engine: engine, build: options.build, started: started)
        var traceBytes: [UInt8]?
        if let recorder {
            engine.observer = nil
            let compressed = try KernelTrace.compress(recorder.bytes)
            traceBytes = compressed
            result.trace = TraceInfo(calls: recorder.count)
            observer?(.traceRecorded(calls: recorder.count, bytes: recorder.bytes.count, compressedBytes: compressed.count))
        }
        guard let bundleURL else { return Outcome(bundleURL: nil, result: result) }
        try ResultBundle.write(result, to: bundleURL.path, trace: traceBytes)
        observer?(.bundleWritten(path: bundleURL.path))
        if let checkpointURL { try? FileManager.default.removeItem(at: checkpointURL) }
        return Outcome(bundleURL: bundleURL, result: result)
    }

    /// Removes temporaries in the phase-0 cache left by writers that no longer run (their
    /// process id is in the name); those of live writers stay.
    func sweepCache() {
        guard let folder = phaseZeroURL?.deletingLastPathComponent() else { return }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [] {
            guard let range = name.range(of: ".partial-") else { continue }
            let pid = name[range.upperBound...].prefix { $0.isNumber }
            guard let id = Int32(pid), id != getpid(), kill(id, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }

    /// The run's checkpoint (with `resume`), else phase 0 from the cache when allowed.
    func restore() throws {
        guard let checkpointURL, let phaseZeroURL else { return }
        sweepCache()
        if options.resume, FileManager.default.fileExists(atPath: checkpointURL.path) {
            let (checkpoint, tensors) = try Checkpoint.read(from: checkpointURL)
            if let recorded = checkpoint.computeIdentity, recorded != computeIdentity {
                throw RunExecutionError.otherCompute(checkpointURL.path, recorded: recorded, current: computeIdentity)
            }
            try runner.restore(checkpoint, tensors: tensors, runFingerprint: plan.runFingerprint)
            observer?(.resumed(finishedPhases: checkpoint.finishedPhases, phases: plan.configuration.schedule.phaseCount, checkpoint: checkpointURL.path))
        } else if options.phaseZeroCache, !options.trace, FileManager.default.fileExists(atPath: phaseZeroURL.path) {
            // Content-addressed and digest-checked on read: a damaged entry is reported and
            // phase 0 trains again.
            do {
                let (checkpoint, tensors) = try Checkpoint.read(from: phaseZeroURL)
                guard checkpoint.finishedPhases == 1 else { throw HarnessError.corrupt(phaseZeroURL.path, reason: "holds \(checkpoint.finishedPhases) phases, not phase 0") }
                try runner.restore(checkpoint, tensors: tensors, runFingerprint: phaseZeroKey)
                observer?(.phaseZeroFromCache(path: phaseZeroURL.path))
            } catch {
                observer?(.cacheEntryIgnored(path: phaseZeroURL.path, reason: "\(error)"))
            }
        }
    }

    /// What this process's bits depend on besides the run's settings: the thread count, the
    /// build and the kernels (`ComputeEngine.processKernels`). A checkpoint records it, and
    /// `--resume` refuses one written under another.
    var computeIdentity: [String: String] {
        ComputeEngine.processKernels.merging(["threads": "\(request.threads)", "build": "\(options.build.version) \(options.build.label)"]) { $1 }
    }

    /// After each phase: the run's checkpoint (a failure ends the run with its error), and
    /// after phase 0 the shared cache entry (a failure is reported, the run goes on).
    func saveCheckpoint(after phase: Int) throws {
        guard let checkpointURL, let phaseZeroURL else { return }
        let (taken, tensors) = try runner.checkpoint(runFingerprint: plan.runFingerprint)
        var checkpoint = taken
        checkpoint.computeIdentity = computeIdentity
        try Checkpoint.write(checkpoint, tensors: tensors, to: checkpointURL)
        observer?(.checkpointWritten(phase: phase, path: checkpointURL.path))
        if phase == 0, !FileManager.default.fileExists(atPath: phaseZeroURL.path) {
            var shared = checkpoint
            shared.runFingerprint = phaseZeroKey
            do { try Checkpoint.write(shared, tensors: tensors, to: phaseZeroURL) } catch {
                observer?(.cacheWriteFailed(path: phaseZeroURL.path, reason: "\(error)"))
            }
        }
    }

    // MARK: Paths

    /// `<out>/<protocol>/<method>[+aanets]/seed-<n>.tar.zst`. When the protocol carries
    /// `--set` overrides the protocol folder is `<protocol>@<settings>`, where `<settings>`
    /// is `settingsTag`: runs of other settings never share a path.
    public static func bundleURL(out: URL, protocol file: CILProtocol, method: String, aanets: Bool, seed: UInt64) -> URL {
        out.appendingPathComponent(protocolFolderName(file, method: method, aanets: aanets))
            .appendingPathComponent(aanets ? "\(method)+aanets" : method)
            .appendingPathComponent("seed-\(seed).tar.zst")
    }

    /// The protocol's folder under `<out>`: its name, plus `@<settingsTag>` with overrides.
    public static func protocolFolderName(_ file: CILProtocol, method: String, aanets: Bool) -> String {
        file.overrides.isEmpty ? file.name : "\(file.name)@\(settingsTag(file, method: method, aanets: aanets))"
    }

    /// 12 hex digits of SHA-256 over the protocol's shared fingerprint and every setting the
    /// run of `method` depends on: equal for equal settings, whichever `--set` produced them.
    public static func settingsTag(_ file: CILProtocol, method: String, aanets: Bool) -> String {
        let settings = file.resolvedSettings(method: method, aanets: aanets).sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return String(SHA256.hex(of: Array(([file.sharedFingerprint] + settings).joined(separator: "\n").utf8)).prefix(12))
    }

    /// A protocol name becomes a folder name: one path component of letters, digits, `.`,
    /// `_` and `-`, not starting with `.` or `-`, at most 64 characters.
    public static func checkSafeName(_ name: String) throws {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        guard !name.isEmpty, name.count <= 64, name.allSatisfy({ allowed.contains($0) }), !name.hasPrefix("."), !name.hasPrefix("-") else {
            throw RunExecutionError.unsafeName(name)
        }
    }

    /// An existing bundle at the path is replaced only by a run of the same settings (same
    /// shared fingerprint, method settings and seed); anything else is refused. True when
    /// there is a bundle to replace.
    static func checkReplaceable(_ bundle: URL, request: RunRequest, outputFolder: URL) throws -> Bool {
        guard FileManager.default.fileExists(atPath: bundle.path) else { return false }
        let existing: RunResult
        do { existing = try ResultBundle.read(path: bundle.path) } catch {
            throw RunExecutionError.bundleInTheWay(bundle.path, reason: "it cannot be read (\(error.error)); move it away or choose another --out than \(outputFolder.path)")
        }
        let file = request.protocolFile
        let same = existing.protocolFingerprint == file.sharedFingerprint
            && existing.hyperParameters == file.resolvedSettings(method: request.method, aanets: request.aanets)
            && existing.seed == Int(request.seed) && existing.method == request.method && existing.aanets == request.aanets
        guard same else {
            throw RunExecutionError.bundleInTheWay(bundle.path, reason: "it holds a run with other settings (protocol fingerprint \(existing.protocolFingerprint.prefix(12)), this run \(file.sharedFingerprint.prefix(12))); move it away or choose another --out than \(outputFolder.path)")
        }
        return true
    }

    // MARK: The result

    /// The bundle's content: the resolved protocol, method and environment, and per phase the
    /// accuracy-matrix counts, digests and epoch log.
    public static func result(plan: RunPlan, records: [PhaseOutcome], engine: ComputeEngine, build: BuildIdentity, started: Date) throws -> RunResult {
        let testImages = records.last?.testImages ?? []
        let cnn = try AccuracyMatrix(correct: records.map(\.cnnCorrect), testImages: testImages)
        let nme = try records.allSatisfy { $0.nmeCorrect != nil }
            ? AccuracyMatrix(correct: records.map { $0.nmeCorrect ?? [] }, testImages: testImages) : nil
        var environment = RunEnvironment.collect(engine: engine)
        environment["method_settings"] = plan.methodSettingsText
        environment.merge(plan.datasetRecord) { $1 }
        if let digest = build.executableDigest { environment["executable_sha256"] = digest }
        var result = RunResult(protocol: plan.protocolFile, method: plan.methodName, aanets: plan.aanets, seed: Int(plan.seed),
                               cilbenchVersion: build.version, gitRevision: build.revision, datasetDigest: plan.datasetDigest,
                               environment: environment, startedAt: started, finishedAt: Date(), phases: records.map(\.record),
                               cnn: cnn, nme: nme, log: records.flatMap(\.epochs))
        result.chain = records.flatMap { $0.chain ?? [] }
        return result
    }
}

extension RunPlan {
    /// The method's resolved settings as `key=value` pairs sorted by key (the manifest's
    /// `method_settings`; replay checks that this build resolves them the same way).
    public var methodSettingsText: String {
        method.resolvedSettings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}

public enum RunExecutionError: Error, CustomStringConvertible, Equatable {
    case invalidOptions(String)
    case unsafeName(String)
    case bundleInTheWay(String, reason: String)
    case busy(String)
    /// A checkpoint written under other threads, build or kernels: the entries of each.
    case otherCompute(String, recorded: [String: String], current: [String: String])

    public var description: String {
        switch self {
        case .invalidOptions(let why): return why
        case .unsafeName(let name):
            return "protocol name '\(name)' is not a safe folder name (1-64 letters, digits, '.', '_' or '-', not starting with '.' or '-')"
        case .bundleInTheWay(let path, let reason): return "\(path): will not replace this bundle: \(reason)"
        case .otherCompute(let path, let recorded, let current):
            let differences = Set(recorded.keys).union(current.keys).sorted().filter { recorded[$0] != current[$0] }
                .map { "\($0) \(recorded[$0] ?? "none") (now \(current[$0] ?? "none"))" }
            return "\(path): this checkpoint was written with \(differences.joined(separator: ", ")); a run resumed under other threads, build or kernels would not end bit-identical to an unbroken run, so resume with the same ones (CILBENCH_CONV3X3, DNNL_MAX_CPU_ISA, OPENBLAS_CORETYPE, --threads choose them) or delete the checkpoint to start this run over"
        case .busy(let path): return "\(path): another run of the same protocol, method and seed is writing into this folder; wait for it or choose another --out"
        }
    }
}

/// An exclusive `flock` on a cell's lock file, held from the folder checks to the bundle's
/// rename, so two runs of one cell never write the same checkpoint or bundle. The lock
/// file stays (removing it would let a third run lock a file the second already opened).
final class CellLock {
    private var fd: Int32
    let url: URL

    init(url: URL) throws {
        self.url = url
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HarnessError.unwritable(url.path, reason: String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            let busy = errno == EWOULDBLOCK
            let reason = String(cString: strerror(errno))
            close(fd)
            fd = -1
            if busy { throw RunExecutionError.busy(url.deletingLastPathComponent().path) }
            throw HarnessError.unwritable(url.path, reason: "cannot lock: \(reason)")
        }
    }

    var owns: Bool { fd >= 0 }

    /// Removes the lock file of a run refused before training (only while holding it; a
    /// later run creates it anew).
    func remove() {
        unlink(url.path)
        release()
    }

    func release() {
        guard fd >= 0 else { return }
        close(fd)
        fd = -1
    }

    deinit { release() }
}
