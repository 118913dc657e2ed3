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
    @Option(help: "Folder the bundle goes into, as <out>/<protocol>/<method>[+aanets]/seed-<n>.tar.zst.") var out = "runs"
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

    /// The engine, plan and runner of a run: `run` and `replay` go through this one path.
    static func prepare(_ file: CILProtocol, method: String, aanets: Bool, seed: UInt64, dataRoot: String?, threads: Int,
                        datasetCache: String? = nil) throws -> (engine: ComputeEngine, plan: RunPlan, runner: Runner) {
        let engine = try ComputeEngine(threads: threads)
        let plan = try RunPlan(protocol: file, method: method, aanets: aanets, seed: seed, dataRoot: dataRoot, threads: threads,
                               datasetCache: datasetCache)
        let runner = try Runner(configuration: plan.configuration, method: plan.method, engine: engine)
        return (engine, plan, runner)
    }

    func execute() throws {
        if trace && resume { throw ValidationError("--trace records every kernel call of the run, so it cannot --resume one") }
        let library = ProtocolLibrary.locate(explicit: protocols)
        let file = try library.load(protocolName, overrides: overrides)
        // Folder datasets keep their digest (and measured statistics) beside the runs.
        let datasetCache = URL(fileURLWithPath: out).appendingPathComponent(".dataset-cache").path
        let (engine, plan, runner) = try Self.prepare(file, method: method, aanets: aanets, seed: seed, dataRoot: dataRoot, threads: threads,
                                                      datasetCache: datasetCache)
        let recorder = trace ? KernelTrace.Recorder() : nil
        engine.observer = recorder
        let folder = URL(fileURLWithPath: out).appendingPathComponent(file.name).appendingPathComponent(plan.variantName)
        let checkpointURL = folder.appendingPathComponent("seed-\(seed).checkpoint")
        // Fail before training, not after it, when the results could not be written.
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw HarnessError.unwritable(folder.path, reason: "cannot create the output folder")
        }
        guard access(folder.path, W_OK) == 0 else { throw HarnessError.unwritable(folder.path, reason: "the output folder is not writable") }

        let phaseZeroKey = plan.phaseZeroKey(threads: threads, build: BuildInfo.gitRevision)
        let phaseZeroURL = URL(fileURLWithPath: out).appendingPathComponent(".phase0-cache").appendingPathComponent("\(phaseZeroKey).checkpoint")
        if resume, FileManager.default.fileExists(atPath: checkpointURL.path) {
            let (checkpoint, tensors) = try Checkpoint.read(from: checkpointURL)
            try runner.restore(checkpoint, tensors: tensors, runFingerprint: plan.runFingerprint)
            FileHandle.standardError.write(Data("resuming after phase \(checkpoint.finishedPhases) of \(file.phases.phaseCount)\n".utf8))
        } else if !noPhaseZeroCache, !trace, FileManager.default.fileExists(atPath: phaseZeroURL.path) {
            // The cache is content-addressed and its values digest-checked on read; a damaged
            // entry is reported and phase 0 is trained again.
            do {
                let (checkpoint, tensors) = try Checkpoint.read(from: phaseZeroURL)
                try runner.restore(checkpoint, tensors: tensors, runFingerprint: phaseZeroKey)
                FileHandle.standardError.write(Data("phase 0 from the cache: \(phaseZeroURL.path)\n".utf8))
            } catch {
                FileHandle.standardError.write(Data("warning: ignoring the phase-0 cache entry: \(error)\n".utf8))
            }
        }
        let progress = ProgressReporter()
        let started = Date()
        var phaseError: Error?
        runner.onEvent = { event in
            progress.handle(event)
            if case .phaseFinished(let outcome) = event {
                do {
                    let (checkpoint, tensors) = try runner.checkpoint(runFingerprint: plan.runFingerprint)
                    try Checkpoint.write(checkpoint, tensors: tensors, to: checkpointURL)
                    if outcome.phase == 0, !FileManager.default.fileExists(atPath: phaseZeroURL.path) {
                        var shared = checkpoint
                        shared.runFingerprint = phaseZeroKey
                        try Checkpoint.write(shared, tensors: tensors, to: phaseZeroURL)
                    }
                } catch { phaseError = error }
            }
        }
        let records = try runner.run()
        if let phaseError { throw phaseError }
        let bundleURL = folder.appendingPathComponent("seed-\(seed).tar.zst")
        var result = try Self.result(plan: plan, records: records, engine: engine, started: started)
        var traceBytes: [UInt8]?
        if let recorder {
            engine.observer = nil
            traceBytes = try KernelTrace.compress(recorder.bytes)
            result.trace = TraceInfo(calls: recorder.count)
            FileHandle.standardError.write(Data("trace: \(recorder.count) kernel calls, \(recorder.bytes.count) bytes, \(traceBytes!.count) compressed\n".utf8))
        }
        try ResultBundle.write(result, to: bundleURL.path, trace: traceBytes)
        try? FileManager.default.removeItem(at: checkpointURL)
        print(BundleTables.summaryMarkdown(result))
        print(bundleURL.path)
    }

    /// The bundle's content: the resolved protocol, method and environment, and per phase the
    /// accuracy-matrix counts, digests and epoch log.
    static func result(plan: RunPlan, records: [PhaseOutcome], engine: ComputeEngine, started: Date) throws -> RunResult {
        let testImages = records.last?.testImages ?? []
        let cnn = try AccuracyMatrix(correct: records.map(\.cnnCorrect), testImages: testImages)
        let nme = try records.allSatisfy { $0.nmeCorrect != nil }
            ? AccuracyMatrix(correct: records.map { $0.nmeCorrect ?? [] }, testImages: testImages) : nil
        var environment = RunEnvironment.collect(engine: engine)
        environment["method_settings"] = RunCommand.methodSettings(plan)
        environment.merge(plan.datasetRecord) { $1 }
        var result = RunResult(protocol: plan.protocolFile, method: plan.methodName, aanets: plan.aanets, seed: Int(plan.seed),
                               cilbenchVersion: BuildInfo.version, gitRevision: BuildInfo.gitRevision, datasetDigest: plan.datasetDigest,
                               environment: environment, startedAt: started, finishedAt: Date(), phases: records.map(\.record),
                               cnn: cnn, nme: nme, log: records.flatMap(\.epochs))
        result.chain = records.flatMap { $0.chain ?? [] }
        return result
    }

    static func methodSettings(_ plan: RunPlan) -> String {
        plan.method.resolvedSettings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
    }
}
