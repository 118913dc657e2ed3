import ArgumentParser
import CILHarness
import CILMethods
import Foundation

/// `cilbench run`: one method (± AANets) on one protocol and seed, with checkpoints after
/// every phase, a summary table, and the result bundle's path as the last line of output.
struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Train a method on a protocol and write its result bundle.",
        discussion: "Methods: \(MethodRegistry.methods.map { "\($0.name) (\($0.summary))" }.joined(separator: "; ")).")

    @Argument(help: "A protocol name under protocols/ or a path to a protocol file.") var protocolName: String
    @Option(help: "The method to run (see the list above).") var method: String
    @Flag(help: "Switch on AANets: dual-branch levels and the α pass.") var aanets = false
    @Option(help: "Seed of every random stream.") var seed: UInt64 = 1993
    @Option(help: "Folder holding the dataset (default: Debian's Fashion-MNIST; required for CIFAR and ImageNet).") var dataRoot: String?
    @Option(help: "Folder the bundle goes into, as <out>/<protocol>/<method>[+aanets]/seed-<n>.tar.zst (<protocol>@<settings tag> with --set).") var out = "runs"
    @Option(help: "Threads for oneDNN and OpenBLAS (results depend on it; it is recorded).") var threads = 2
    @Option(name: .customLong("set"), help: "Override a protocol field, e.g. --set training.epochs=3 (repeatable; changes the fingerprint).")
    var overrides: [String] = []
    @Flag(help: "Continue from the last finished phase of an earlier run with the same settings.") var resume = false
    @Option(help: "Protocol folder (default: protocols/ beside the package).") var protocols: String?
    @Flag(help: "Train phase 0 even if a run with the same phase 0 left it in <out>/.phase0-cache.") var noPhaseZeroCache = false
    @Flag(help: "Record every kernel call (context, kind, shapes, input and output digests) into the bundle's trace.zst for `cilbench replay`. Trains every phase (no resume, no phase-0 cache); digesting every tensor slows the run.")
    var trace = false

    func run() throws {
        do {
            try execute()
        } catch let error as ExitCode {
            throw error
        } catch {
            FileHandle.standardError.write(Data("error: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    func execute() throws {
        let library = ProtocolLibrary.locate(explicit: protocols)
        let file = try library.load(protocolName, overrides: overrides)
        let request = RunRequest(protocol: file, method: method, aanets: aanets, seed: seed, dataRoot: dataRoot, threads: threads)
        let options = RunExecution.Options(resume: resume, phaseZeroCache: !noPhaseZeroCache, trace: trace, build: BuildInfo.identity)
        let progress = ProgressReporter()
        let execution = try RunExecution(request: request, outputFolder: URL(fileURLWithPath: out), options: options) { event in
            switch event {
            case .progress(let event): progress.handle(event)
            case .resumed(let finished, let phases, _): Self.note("resuming after phase \(finished) of \(phases)")
            case .phaseZeroFromCache(let path): Self.note("phase 0 from the cache: \(path)")
            case .cacheEntryIgnored(_, let reason): Self.note("warning: ignoring the phase-0 cache entry: \(reason)")
            case .cacheWriteFailed(let path, let reason): Self.note("warning: phase 0 not cached at \(path): \(reason)")
            case .replacingBundle(let path): Self.note("note: replacing \(path) (same settings)")
            case .traceRecorded(let calls, let bytes, let compressed):
                Self.note("trace: \(calls) kernel calls, \(bytes) bytes, \(compressed) compressed")
            case .checkpointWritten, .bundleWritten: break
            }
        }
        let outcome = try execution.execute()
        print(BundleTables.summaryMarkdown(outcome.result))
        if let url = outcome.bundleURL { print(url.path) }
    }

    static func note(_ line: String) { FileHandle.standardError.write(Data((line + "\n").utf8)) }
}
