// `cilbench replay`: re-executes a run from its bundle and compares it, kernel call by
// kernel call when the bundle holds a full trace, by the digest chain otherwise.
import ArgumentParser
import CILHarness
import CILMethods
import Foundation

struct ReplayCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Re-run a bundle's run and stop at the first kernel call (or epoch) that differs from the recording.",
        discussion: """
            The run is rebuilt from the bundle's manifest (protocol canonical text, checked against its fingerprint; method, seed, thread count) and trained again \
            through the same code path as `cilbench run`. With a full trace (`run --trace`) every kernel call's inputs and output \
            are compared; without one, the parameters' digest chain after every epoch and the end-of-phase digests are. \
            On a divergence it prints where (phase, epoch, step, stage, kernel, shapes), what differs (an input or the output) \
            and how this environment differs from the recorded one.
            Exit status: 0 when everything matches, 1 at a divergence, 2 when the bundle cannot be replayed.
            With --capture SEQ it stops after kernel call SEQ and writes that call to a file for `cilbench replay-kernel`.
            """)

    @Argument(help: "A result bundle (.tar.zst).") var bundle: String
    @Option(help: "Folder holding the dataset, as given to `cilbench run`.") var dataRoot: String?
    @Option(help: "Threads for oneDNN and OpenBLAS (default: the recorded count).") var threads: Int?
    @Option(help: "Protocol folder, used only when the manifest's protocol text cannot rebuild the protocol (default: protocols/ beside the package).") var protocols: String?
    @Option(help: "Capture kernel call SEQ (its inputs, attributes and output) instead of comparing the whole run.") var capture: Int?
    @Option(help: "Where --capture writes the call (default: kernel-<SEQ>.cilk).") var captureFile: String?

    func run() throws {
        let code: Int32
        do { code = try execute() } catch let error as ExitCode { throw error } catch { throw failure("\(error)") }
        if code != 0 { throw ExitCode(code) }
    }

    private struct Stop: Error {}

    func execute() throws -> Int32 {
        if let threads, threads < 1 { throw failure("--threads must be at least 1") }
        if let capture, capture < 1 { throw failure("--capture takes a kernel call's sequence number (1 or more)") }
        let recorded: RunResult
        do { recorded = try ResultBundle.read(path: bundle) } catch { throw failure(error.description) }
        let file = try protocolFile(recorded)
        guard recorded.seed >= 0 else { throw failure("the bundle's seed \(recorded.seed) is negative") }
        let recordedThreads = Int(recorded.environment["threads"] ?? "")
        let threads = self.threads ?? recordedThreads ?? 2
        let (engine, plan, runner) = try RunCommand.prepare(file, method: recorded.method, aanets: recorded.aanets, seed: UInt64(recorded.seed),
                                                            dataRoot: dataRoot, threads: threads)
        guard plan.datasetDigest == recorded.datasetDigest else {
            throw failure("the dataset differs from the run's (digest \(plan.datasetDigest.prefix(12)), recorded \(recorded.datasetDigest.prefix(12))); pass --data-root of the data the run used")
        }
        if let settings = recorded.environment["method_settings"], settings != RunCommand.methodSettings(plan) {
            throw failure("the method's resolved settings differ from the run's (\(RunCommand.methodSettings(plan)) vs \(settings)): this build resolves them differently")
        }
        let reader: KernelTrace.Reader?
        do { reader = try KernelTrace.reader(bundleAt: bundle, result: recorded) } catch { throw failure(error.description) }
        let comparator = reader.map(ReplayComparator.init)
        engine.observer = comparator
        if let capture {
            engine.captureSequence = capture
            comparator?.captureSequence = capture
            comparator?.stopsAtDivergence = false
        }

        print("replaying \(bundle): \(recorded.protocolName), \(recorded.methodLabel), seed \(recorded.seed), \(threads) threads")
        if let recordedThreads, recordedThreads != threads { print("note: the run used \(recordedThreads) threads, this replay \(threads)") }
        if let trace = recorded.trace {
            print("comparing every kernel call with the recorded trace (\(trace.calls) calls)")
        } else {
            print("no full trace in the bundle: comparing the digest chain (\(recorded.chain.count) links) and the end-of-phase digests")
        }

        let recordedLinks = Dictionary(recorded.chain.map { (Self.key($0), $0) }, uniquingKeysWith: { a, _ in a })
        var divergence: ReplayDivergence?
        var linksCompared = 0, phasesCompared = 0
        runner.onMark = { mark in
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
                print("phase \(outcome.phase): matches")
            case .step, .stage:
                break
            }
        }
        do { try runner.run() } catch is Stop {}

        if let capture { return try writeCapture(capture, engine: engine, comparator: comparator, recorded: recorded) }
        if divergence == nil, let comparator {
            do { try comparator.finish() } catch { throw failure("\(bundle): \(error)") }
        }
        if let first = comparator?.divergence ?? divergence {
            print(first.description)
            let here = RunEnvironment.collect(engine: engine)
            for line in EnvironmentComparison.report(recorded: recorded.environment, current: here, recordedBuild: recorded.gitRevision,
                                                     currentBuild: BuildInfo.gitRevision) {
                print(line)
            }
            return 1
        }
        var what = ["\(phasesCompared) phases", "\(linksCompared) chain links"]
        if let comparator { what.insert("\(comparator.compared) kernel calls", at: 0) }
        print("replay matches the recording: \(what.joined(separator: ", ")) identical")
        return 0
    }

    /// The run's protocol: rebuilt from the manifest's canonical text, or (for a bundle whose
    /// text does not round-trip) loaded by name with the recorded overrides; either way its
    /// shared fingerprint must equal the recorded one and it must resolve the run's method
    /// to the recorded settings.
    func protocolFile(_ recorded: RunResult) throws -> CILProtocol {
        func matches(_ p: CILProtocol) -> Bool {
            p.sharedFingerprint == recorded.protocolFingerprint
                && p.resolvedSettings(method: recorded.method, aanets: recorded.aanets) == recorded.hyperParameters
        }
        if let rebuilt = try? CILProtocol.fromCanonicalText(recorded.protocolCanonicalText, name: recorded.protocolName), matches(rebuilt) {
            return rebuilt
        }
        let file: CILProtocol
        do { file = try ProtocolLibrary.locate(explicit: protocols).load(recorded.protocolName, overrides: recorded.protocolOverrides) } catch {
            throw failure("the manifest's protocol text does not rebuild the protocol and \(recorded.protocolName) cannot be loaded: \(error)")
        }
        guard matches(file) else {
            throw failure("the manifest's protocol text does not rebuild the protocol, and protocol \(recorded.protocolName) has changed since the run (fingerprint \(file.sharedFingerprint.prefix(12)), recorded \(recorded.protocolFingerprint.prefix(12)), or other method settings); use the protocol folder of the run with --protocols")
        }
        return file
    }

    static func key(_ l: ChainLink) -> String { "\(l.phase)/\(l.epoch)/\(l.stage.rawValue)" }

    func writeCapture(_ sequence: Int, engine: ComputeEngine, comparator: ReplayComparator?, recorded: RunResult) throws -> Int32 {
        guard let call = engine.capturedCall else {
            throw failure(KernelCapture.CaptureError.notReached(sequence: sequence, calls: engine.sequence).description)
        }
        guard call.isCapturable else { throw failure(KernelCapture.CaptureError.notCapturable(sequence: sequence, kind: call.kind).description) }
        let path = captureFile ?? "kernel-\(sequence).cilk"
        let capture = KernelCapture(call: call, sequence: sequence, bundle: bundle, environment: RunEnvironment.collect(engine: engine),
                                    build: BuildInfo.gitRevision, recorded: comparator?.capturedRecord)
        do { try capture.write(to: path) } catch { throw failure("\(error)") }
        print("captured kernel call #\(sequence) \(call.kind) at \(call.context): \(path)")
        if let first = comparator?.divergence { print("note: the replay had already diverged before it: \(first.description)") }
        return 0
    }
}
