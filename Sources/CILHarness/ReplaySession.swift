import CILKernels
import Foundation

/// A bundle's run trained again through `RunExecution` (writing nothing) and compared with
/// the recording: kernel call by kernel call when the bundle holds a full trace, by the
/// digest chain and the end-of-phase digests otherwise. `cilbench replay` is its front end.
public final class ReplaySession {
    public enum Outcome {
        case matches(kernelCalls: Int?, phases: Int, chainLinks: Int)
        /// The first divergence and how this environment differs from the recorded one.
        case diverged(ReplayDivergence, environment: [String])
        /// `capture`: the call, the recorded trace's record of it, and a divergence seen before it.
        case captured(KernelCall, recorded: KernelRecord?, earlierDivergence: ReplayDivergence?)
    }

    public let bundle: String
    public let recorded: RunResult
    public let threads: Int
    /// The recorded thread count, when the manifest has one.
    public let recordedThreads: Int?
    public let execution: RunExecution
    public let capture: Int?
    private let comparator: ReplayComparator?
    private let build: BuildIdentity

    /// Rebuilds the run (protocol from `protocolFile`, data from `dataRoot`) and checks the
    /// dataset digest and the method's resolved settings against the recording.
    public init(bundle: String, recorded: RunResult, protocol file: CILProtocol, dataRoot: String?, threads: Int?, capture: Int?,
                build: BuildIdentity) throws {
        if let threads, threads < 1 { throw ReplayError.unreplayable("--threads must be at least 1") }
        if let capture, capture < 1 { throw ReplayError.unreplayable("--capture takes a kernel call's sequence number (1 or more)") }
        guard recorded.seed >= 0 else { throw ReplayError.unreplayable("the bundle's seed \(recorded.seed) is negative") }
        self.bundle = bundle
        self.recorded = recorded
        self.capture = capture
        self.build = build
        recordedThreads = Int(recorded.environment["threads"] ?? "")
        let threads = threads ?? recordedThreads ?? 2
        self.threads = threads
        let request = RunRequest(protocol: file, method: recorded.method, aanets: recorded.aanets, seed: UInt64(recorded.seed),
                                 dataRoot: dataRoot, threads: threads)
        execution = try RunExecution(request: request, outputFolder: nil, options: RunExecution.Options(build: build))
        let plan = execution.plan
        guard plan.datasetDigest == recorded.datasetDigest else {
            throw ReplayError.unreplayable("the dataset differs from the run's (digest \(plan.datasetDigest.prefix(12)), recorded \(recorded.datasetDigest.prefix(12))); pass --data-root of the data the run used")
        }
        if let settings = recorded.environment["method_settings"], settings != plan.methodSettingsText {
            throw ReplayError.unreplayable("the method's resolved settings differ from the run's (\(plan.methodSettingsText) vs \(settings)): this build resolves them differently")
        }
        let reader: KernelTrace.Reader?
        do { reader = try KernelTrace.reader(bundleAt: bundle, result: recorded) } catch { throw ReplayError.unreplayable(error.description) }
        comparator = reader.map(ReplayComparator.init)
        execution.engine.observer = comparator
        if let capture {
            execution.engine.captureSequence = capture
            comparator?.captureSequence = capture
            comparator?.stopsAtDivergence = false
        }
    }

    private struct Stop: Error {}

    /// Trains until the first divergence (or the captured call) and reports. `phaseMatched`
    /// hears of each phase whose end-of-phase digests equal the recording's.
    public func run(phaseMatched: @escaping (Int) -> Void = { _ in }) throws -> Outcome {
        let recorded = self.recorded, engine = execution.engine, comparator = self.comparator, capture = self.capture
        let recordedLinks = Dictionary(recorded.chain.map { (Self.key($0), $0) }, uniquingKeysWith: { a, _ in a })
        var divergence: ReplayDivergence?
        var linksCompared = 0, phasesCompared = 0
        execution.watcher = { mark in
            if capture != nil {
                if engine.capturedCall != nil { throw Stop() }
                return
            }
            if comparator?.divergence != nil { throw Stop() }
            switch mark {
            case .chainLink(let link):
                guard let expected = recordedLinks[Self.key(link)] else {
                    // Phases restored from a checkpoint or the phase-0 cache have no links.
                    if recorded.chain.contains(where: { $0.phase == link.phase }) {
                        divergence = .chainShape("the replay made link phase \(link.phase) epoch \(link.epoch) \(link.stage.rawValue), the recording has none")
                        throw Stop()
                    }
                    return
                }
                linksCompared += 1
                if expected != link {
                    divergence = .chain(recorded: expected, replayed: link)
                    throw Stop()
                }
            case .phaseFinished(let outcome):
                guard outcome.phase < recorded.phases.count else {
                    divergence = .phase(phase: outcome.phase, differences: ["the recorded run has only \(recorded.phases.count) phases"])
                    throw Stop()
                }
                let r = recorded.phases[outcome.phase], p = outcome.record
                var differences: [String] = []
                for (name, a, b) in [("parameters", r.parameterDigest, p.parameterDigest), ("exemplars", r.exemplarDigest, p.exemplarDigest),
                                     ("predictions", r.predictionDigest, p.predictionDigest)] where a != b {
                    differences.append("\(name) \(Digest.hex(b)), recorded \(Digest.hex(a))")
                }
                phasesCompared += 1
                if !differences.isEmpty {
                    divergence = .phase(phase: outcome.phase, differences: differences)
                    throw Stop()
                }
                phaseMatched(outcome.phase)
            case .step, .stage:
                break
            }
        }
        defer { execution.watcher = nil }
        do { _ = try execution.execute() } catch is Stop {}

        if let capture {
            guard let call = engine.capturedCall else { throw KernelCapture.CaptureError.notReached(sequence: capture, calls: engine.sequence) }
            guard call.isCapturable else { throw KernelCapture.CaptureError.notCapturable(sequence: capture, kind: call.kind) }
            return .captured(call, recorded: comparator?.capturedRecord, earlierDivergence: comparator?.divergence)
        }
        if divergence == nil, let comparator {
            do { try comparator.finish() } catch { throw ReplayError.unreplayable("\(bundle): \(error)") }
        }
        if let first = comparator?.divergence ?? divergence {
            let here = RunEnvironment.collect(engine: engine)
            return .diverged(first, environment: EnvironmentComparison.report(recorded: recorded.environment, current: here,
                                                                              recordedBuild: recorded.gitRevision, currentBuild: build.revision))
        }
        return .matches(kernelCalls: comparator?.compared, phases: phasesCompared, chainLinks: linksCompared)
    }

    static func key(_ l: ChainLink) -> String { "\(l.phase)/\(l.epoch)/\(l.stage.rawValue)" }

    /// The run's protocol: rebuilt from the manifest's canonical text, or (for a bundle whose
    /// text does not round-trip) loaded from `library` by name with the recorded overrides;
    /// either way its shared fingerprint must equal the recorded one and it must resolve the
    /// run's method to the recorded settings.
    public static func protocolFile(_ recorded: RunResult, library: ProtocolLibrary) throws -> CILProtocol {
        func matches(_ p: CILProtocol) -> Bool {
            p.sharedFingerprint == recorded.protocolFingerprint
                && p.resolvedSettings(method: recorded.method, aanets: recorded.aanets) == recorded.hyperParameters
        }
        if let rebuilt = try? CILProtocol.fromCanonicalText(recorded.protocolCanonicalText, name: recorded.protocolName), matches(rebuilt) {
            return rebuilt
        }
        let file: CILProtocol
        do { file = try library.load(recorded.protocolName, overrides: recorded.protocolOverrides) } catch {
            throw ReplayError.unreplayable("the manifest's protocol text does not rebuild the protocol and \(recorded.protocolName) cannot be loaded: \(error)")
        }
        guard matches(file) else {
            throw ReplayError.unreplayable("the manifest's protocol text does not rebuild the protocol, and protocol \(recorded.protocolName) has changed since the run (fingerprint \(file.sharedFingerprint.prefix(12)), recorded \(recorded.protocolFingerprint.prefix(12)), or other method settings); use the protocol folder of the run with --protocols")
        }
        return file
    }
}

public enum ReplayError: Error, CustomStringConvertible {
    case unreplayable(String)
    public var description: String {
        switch self { case .unreplayable(let why): return why }
    }
}
