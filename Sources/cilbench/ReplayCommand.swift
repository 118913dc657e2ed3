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

    func execute() throws -> Int32 {
        if let threads, threads < 1 { throw failure("--threads must be at least 1") }
        if let capture, capture < 1 { throw failure("--capture takes a kernel call's sequence number (1 or more)") }
        let recorded: RunResult
        do { recorded = try ResultBundle.read(path: bundle) } catch { throw failure(error.description) }
        let file = try ReplaySession.protocolFile(recorded, library: ProtocolLibrary.locate(explicit: protocols))
        let session = try ReplaySession(bundle: bundle, recorded: recorded, protocol: file, dataRoot: dataRoot, threads: threads,
                                        capture: capture, build: BuildInfo.identity)

        print("replaying \(bundle): \(recorded.protocolName), \(recorded.methodLabel), seed \(recorded.seed), \(session.threads) threads")
        if let recordedThreads = session.recordedThreads, recordedThreads != session.threads {
            print("note: the run used \(recordedThreads) threads, this replay \(session.threads)")
        }
        if let trace = recorded.trace {
            print("comparing every kernel call with the recorded trace (\(trace.calls) calls)")
        } else {
            print("no full trace in the bundle: comparing the digest chain (\(recorded.chain.count) links) and the end-of-phase digests")
        }
        switch try session.run(phaseMatched: { print("phase \($0): matches") }) {
        case .captured(let call, let record, let earlier):
            let sequence = capture ?? 0
            let path = captureFile ?? "kernel-\(sequence).cilk"
            let file = KernelCapture(call: call, sequence: sequence, bundle: bundle, environment: RunEnvironment.collect(engine: session.execution.engine),
                                     build: BuildInfo.identity.revision, recorded: record)
            do { try file.write(to: path) } catch { throw failure("\(error)") }
            print("captured kernel call #\(sequence) \(call.kind) at \(call.context): \(path)")
            if let earlier { print("note: the replay had already diverged before it: \(earlier.description)") }
            return 0
        case .diverged(let divergence, let environment):
            print(divergence.description)
            for line in environment { print(line) }
            return 1
        case .matches(let calls, let phases, let links):
            var what = ["\(phases) phases", "\(links) chain links"]
            if let calls { what.insert("\(calls) kernel calls", at: 0) }
            print("replay matches the recording: \(what.joined(separator: ", ")) identical")
            return 0
        }
    }
}
