import CILData
import CILHarness
import CILMethods
import Foundation
import Testing

/// The synthetic configuration every conformance run uses: 10 classes in 3 phases (4 + 3 + 3),
/// ResNet-32, seed 7.
struct ConformanceSetup: Sendable {
    var imageSize = 12
    var trainPerClass = 30
    var testPerClass = 10
    var baseEpochs = 12
    var epochs = 4
    var baseLearningRate = 0.05
    var learningRate = 0.02
    var batchSize = 16
    var exemplarsPerClass = 5
    /// The fixed-total policy's K: ⌊20/4⌋ = 5, then ⌊20/7⌋ = ⌊20/10⌋ = 2 per class.
    var fixedTotal = 20

    static let standard = ConformanceSetup()

    func datasets() throws -> (train: ImageDataset, test: ImageDataset) {
        (try SyntheticImages.dataset(classCount: 10, perClass: trainPerClass, height: imageSize, width: imageSize, seed: 1, split: "train"),
         try SyntheticImages.dataset(classCount: 10, perClass: testPerClass, height: imageSize, width: imageSize, seed: 2, split: "test"))
    }

    func configuration(aanets: Bool, memory: MemoryPolicy, test: any ImageSource) throws -> RunConfiguration {
        let train = try datasets().train
        let crop = Preprocessing(spatial: .randomCrop(size: imageSize, padding: 2), horizontalFlip: true, brightness: nil, normalization: .measured(on: train))
        let plain = Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: .measured(on: train))
        return RunConfiguration(
            train: train, test: test, classOrder: ClassOrder.numpyShuffle(seed: 1993, classCount: 10),
            schedule: try PhaseSchedule(totalClasses: 10, initialClasses: 4, increment: 3), memory: memory,
            backbone: .resnet32, trainPreprocessing: crop, testPreprocessing: plain,
            optimization: Optimization(epochs: epochs, batchSize: batchSize, learningRate: learningRate),
            baseOptimization: Optimization(epochs: baseEpochs, batchSize: batchSize, learningRate: baseLearningRate),
            aanets: aanets ? AANetsSettings(balancedPerClass: 5, balancedBatchSize: 32) : nil, seed: 7)
    }
}

/// One probed run (see ConformanceSupport.swift) and what was observed after every phase.
struct ProbedRun: Sendable {
    var records: [PhaseOutcome]
    var usesExemplars: Bool
    var resolvedSettings: [String: String]
    /// `memory.allExemplars(seenClasses:)` count after each phase, and its budget.
    var exemplarCounts: [Int]
    var budgets: [Int]
    /// Kept exemplars that are not training images of a seen class, over all phases.
    var strayExemplars: Int
    var evaluationReads: [Int]
    var forbiddenReads: Int
    var frozenBlocksChecked: Int
    var frozenBlocksChanged: [String]
    var seconds: Double

    /// The classifier the method reports its headline number with.
    var reportedClassifier: String { resolvedSettings["classifier"] ?? resolvedSettings["eval_classifier"] ?? "cnn" }
    var reportedAverage: Double { SmokeRuns.average(records, nme: reportedClassifier == "nme") }
    var cnnAverage: Double { SmokeRuns.average(records) }

    static func run(_ name: String, aanets: Bool, memory: MemoryPolicy, sentinel: UInt8? = nil,
                    setup: ConformanceSetup = .standard, settings: [String: String] = [:],
                    checkpointAfterPhaseOne url: URL? = nil) throws -> ProbedRun {
        let start = Date()
        let guardian = TestSplitGuard()
        let real = try setup.datasets().test
        let test = ProbedImageSource(base: try sentinel.map { try real.sentinelCopy($0) } ?? real, guardian: guardian)
        let configuration = try setup.configuration(aanets: aanets, memory: memory, test: test)
        let probe = ConformanceProbe(wrapping: try MethodRegistry.make(name, settings: MethodSettings(settings)), guardian: guardian)
        let runner = try Runner(configuration: configuration, method: probe, engine: ComputeEngine(threads: 2))
        let positions = configuration.classOrder.labelToPosition
        let trainLabels = configuration.train.labels
        var counts: [Int] = [], budgets: [Int] = [], stray = 0
        runner.onEvent = { [unowned runner] event in
            guard case .phaseFinished(let outcome) = event else { return }
            guardian.phaseFinished()
            let seen = outcome.seenClasses
            let kept = runner.memory.allExemplars(seenClasses: seen)
            counts.append(kept.count)
            switch memory {
            case .perClass(let m): budgets.append(m * seen)
            case .fixedTotal(let k): budgets.append(k)
            }
            stray += kept.filter { !trainLabels.indices.contains($0) || positions[trainLabels[$0]] >= seen }.count
            stray += kept.count - Set(kept).count   // duplicates
        }
        if let url {
            _ = try runner.runNextPhase()
            _ = try runner.runNextPhase()
            let (checkpoint, tensors) = try runner.checkpoint(runFingerprint: "conformance")
            try Checkpoint.write(checkpoint, tensors: tensors, to: url)
        }
        let records = try runner.run()
        let reads = guardian.snapshot
        return ProbedRun(records: records, usesExemplars: probe.usesExemplars, resolvedSettings: probe.resolvedSettings,
                         exemplarCounts: counts, budgets: budgets, strayExemplars: stray,
                         evaluationReads: reads.evaluationReads, forbiddenReads: reads.forbiddenReads,
                         frozenBlocksChecked: probe.frozenBlocksChecked, frozenBlocksChanged: probe.frozenBlocksChanged,
                         seconds: Date().timeIntervalSince(start))
    }

    /// Phase 2 in a fresh Runner (and a fresh method) restored from the checkpoint the
    /// primary run wrote after phase 1, as `cilbench run --resume` does in a new process.
    static func resumed(_ name: String, aanets: Bool, from url: URL, setup: ConformanceSetup = .standard) throws -> [PhaseOutcome] {
        let configuration = try setup.configuration(aanets: aanets, memory: .perClass(setup.exemplarsPerClass), test: try setup.datasets().test)
        let (loaded, values) = try Checkpoint.read(from: url)
        let resumed = try Runner(configuration: configuration, method: MethodRegistry.make(name, settings: MethodSettings()), engine: ComputeEngine(threads: 2))
        try resumed.restore(loaded, tensors: values, runFingerprint: "conformance")
        #expect(resumed.records.count == 2)
        return try resumed.run()
    }
}

/// Every run a method ± AANets needs, computed once per test process and shared by the checks.
struct VariantRuns: Sendable {
    /// Per-class memory, the real test split; writes a checkpoint after phase 1 and goes on.
    var primary: ProbedRun
    /// The primary run resumed from its phase-1 checkpoint in a fresh Runner: all 3 records.
    var resumed: [PhaseOutcome]
    /// A second run from scratch, as `primary` but with every test image replaced by a
    /// constant sentinel image.
    var sentinel: ProbedRun
    /// Fixed-total memory; only for methods that keep exemplars.
    var fixedTotal: ProbedRun?

    static let sentinelByte: UInt8 = 0xA5
}

final class ConformanceRuns: @unchecked Sendable {
    static let shared = ConformanceRuns()
    private let lock = NSLock()
    private var cache: [String: VariantRuns] = [:]

    func runs(_ name: String, aanets: Bool) throws -> VariantRuns {
        lock.lock()
        defer { lock.unlock() }
        let key = "\(name)|\(aanets)"
        if let hit = cache[key] { return hit }
        let setup = ConformanceSetup.standard
        let start = Date()
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("cilbench-conformance-\(ProcessInfo.processInfo.processIdentifier)-\(name)-\(aanets)/phase1.ckpt")
        defer { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        let primary = try ProbedRun.run(name, aanets: aanets, memory: .perClass(setup.exemplarsPerClass), checkpointAfterPhaseOne: url)
        let runs = VariantRuns(
            primary: primary,
            resumed: try ProbedRun.resumed(name, aanets: aanets, from: url),
            sentinel: try ProbedRun.run(name, aanets: aanets, memory: .perClass(setup.exemplarsPerClass), sentinel: VariantRuns.sentinelByte),
            fixedTotal: primary.usesExemplars ? try ProbedRun.run(name, aanets: aanets, memory: .fixedTotal(setup.fixedTotal)) : nil)
        print(String(format: "conformance %@%@: CNN avg %.3f (per phase %@), NME avg %@, reported (%@) %.3f; primary run %.1f s, all runs %.1f s",
                     name, aanets ? "+aanets" : "", primary.cnnAverage,
                     primary.records.map { String(format: "%.3f", $0.cnnAccuracy) }.joined(separator: " "),
                     SmokeRuns.average(primary.records, nme: true).isNaN ? "-" : String(format: "%.3f", SmokeRuns.average(primary.records, nme: true)),
                     primary.reportedClassifier, primary.reportedAverage, primary.seconds, Date().timeIntervalSince(start)))
        cache[key] = runs
        return runs
    }
}

/// The conformance suite (issue 5): every method in `MethodRegistry.methods` — built-in or a
/// future plug-in, no edit needed here — with and without AANets, on a small synthetic
/// configuration. Each variant's runs are computed once (ConformanceRuns) and shared:
///
/// - determinism: two runs from scratch (primary and sentinel) end every phase with identical
///   parameter and exemplar digests and per-epoch losses; the prediction digest, which the
///   sentinel run changes on purpose, is reproduced by the resumed run (fresh Runner, same
///   state) for the phase it evaluates, and the restored records equal the primary's;
/// - resume: the primary run writes a checkpoint after phase 1 and goes on; a fresh Runner
///   restored from it finishes phase 2 with the unbroken run's digests;
/// - memory: the kept exemplars never exceed the per-class (m × seen) or fixed-total (K)
///   budget, are training images of seen classes, and are none for methods without exemplars;
/// - test split: see `neverTouchesTheTestSplit`;
/// - frozen head: head parameters frozen when a phase begins (any head type) hold their
///   exact values through the phase's training;
/// - accuracy: every method beats fine-tuning and stays under joint training.
///
/// Cost, measured with the five built-in methods: 149 s of CPU (5.4 min wall while three
/// other builds shared the 2 cores; on 2 idle cores that CPU time suggests 1.5–2 min, not
/// measured). Each added method
/// adds two variants, about 30 s of CPU.
@Suite(.serialized) struct ConformanceTests {
    static let aanetsSwitch = [false, true]

    @Test(arguments: MethodRegistry.names, aanetsSwitch)
    func deterministic(name: String, aanets: Bool) throws {
        let runs = try ConformanceRuns.shared.runs(name, aanets: aanets)
        let first = runs.primary.records, second = runs.sentinel.records
        try #require(first.count == 3 && second.count == 3)
        #expect(first.map(\.parameterDigest) == second.map(\.parameterDigest))
        #expect(first.map(\.record.exemplarDigest) == second.map(\.record.exemplarDigest))
        #expect(first.map { $0.epochs.map(\.losses) } == second.map { $0.epochs.map(\.losses) })
        // Evaluation of the same state in another Runner gives the same predictions.
        #expect(runs.resumed.last?.predictionDigest == first.last?.predictionDigest)
        #expect(runs.resumed.last?.cnnCorrect == first.last?.cnnCorrect)
    }

    @Test(arguments: MethodRegistry.names, aanetsSwitch)
    func resumeEqualsUnbrokenRun(name: String, aanets: Bool) throws {
        let runs = try ConformanceRuns.shared.runs(name, aanets: aanets)
        let unbroken = runs.primary.records, resumed = runs.resumed
        try #require(resumed.count == unbroken.count && resumed.count == 3)
        #expect(resumed.map(\.parameterDigest) == unbroken.map(\.parameterDigest))
        #expect(resumed.map(\.record.exemplarDigest) == unbroken.map(\.record.exemplarDigest))
        #expect(resumed.map(\.predictionDigest) == unbroken.map(\.predictionDigest))
        #expect(resumed.last?.nmeCorrect == unbroken.last?.nmeCorrect)
    }

    @Test(arguments: MethodRegistry.names, aanetsSwitch)
    func memoryBudgetIsNeverExceeded(name: String, aanets: Bool) throws {
        let runs = try ConformanceRuns.shared.runs(name, aanets: aanets)
        for run in [runs.primary, runs.sentinel] + (runs.fixedTotal.map { [$0] } ?? []) {
            #expect(run.exemplarCounts.count == run.records.count)
            for (count, budget) in zip(run.exemplarCounts, run.budgets) { #expect(count <= budget) }
            #expect(run.strayExemplars == 0)
            if !run.usesExemplars { #expect(run.exemplarCounts.allSatisfy { $0 == 0 }) }
        }
        let setup = ConformanceSetup.standard
        if runs.primary.usesExemplars {
            // Both policies fill their budget exactly here (every class has ≥ m training images).
            #expect(runs.primary.exemplarCounts == [4, 7, 10].map { $0 * setup.exemplarsPerClass })
            let fixed = try #require(runs.fixedTotal)
            #expect(fixed.exemplarCounts == [4, 7, 10].map { $0 * (setup.fixedTotal / $0) })
        }
    }

    /// The method never sees the test split, shown two ways on every run of the variant:
    /// 1. Reads: the test source is wrapped (ProbedImageSource) and every read is reported to
    ///    a TestSplitGuard. The method is wrapped too (ConformanceProbe), which marks every
    ///    call into method code and the end of the method's phase (`endPhase` returned). A read
    ///    counts as allowed only after `endPhase` and before the runner reports the phase
    ///    finished (the harness's exemplar selection and evaluation), and never while method
    ///    code runs; any other read — in Runner setup, head construction, beginPhase, a
    ///    training step, the AANets α pass — is forbidden and must not happen. Each phase's
    ///    evaluation must read at least every seen class's test images, so the probe is live.
    /// 2. Content: a run whose test images are all one constant sentinel image must follow
    ///    the same training trajectory (per-epoch losses, parameter and exemplar digests after
    ///    every phase) as the run on the real test images, while its predictions differ. So
    ///    nothing that influences training (the method, exemplar selection, BN statistics,
    ///    the α pass) depends on test content, even indirectly through the harness.
    @Test(arguments: MethodRegistry.names, aanetsSwitch)
    func neverTouchesTheTestSplit(name: String, aanets: Bool) throws {
        let runs = try ConformanceRuns.shared.runs(name, aanets: aanets)
        let testPerClass = ConformanceSetup.standard.testPerClass
        for run in [runs.primary, runs.sentinel] + (runs.fixedTotal.map { [$0] } ?? []) {
            #expect(run.forbiddenReads == 0)
            #expect(run.evaluationReads.count == 3)
            for (reads, outcome) in zip(run.evaluationReads, run.records) { #expect(reads >= outcome.seenClasses * testPerClass) }
        }
        let real = runs.primary.records, sentinel = runs.sentinel.records
        #expect(sentinel.map(\.parameterDigest) == real.map(\.parameterDigest))
        #expect(sentinel.map(\.record.exemplarDigest) == real.map(\.record.exemplarDigest))
        #expect(sentinel.map { $0.epochs.map(\.losses) } == real.map { $0.epochs.map(\.losses) })
        #expect(sentinel.map(\.predictionDigest) != real.map(\.predictionDigest), "the sentinel test set was not evaluated")
    }

    @Test(arguments: MethodRegistry.names, aanetsSwitch)
    func frozenHeadVectorsKeepTheirValues(name: String, aanets: Bool) throws {
        let runs = try ConformanceRuns.shared.runs(name, aanets: aanets)
        for run in [runs.primary, runs.sentinel] + (runs.fixedTotal.map { [$0] } ?? []) {
            #expect(run.frozenBlocksChanged.isEmpty)
            // A method that says it freezes old vectors must actually freeze some block.
            if run.resolvedSettings["freeze_old_head"] == "true" { #expect(run.frozenBlocksChecked > 0) }
        }
    }

    /// Lower bound: the average incremental accuracy (three phases) on the classifier the
    /// method reports (`classifier`/`eval_classifier`, default CNN) beats fine-tuning's CNN.
    /// Upper bound: the method's CNN average stays under joint training's CNN average — the
    /// same classifier on both sides; joint training keeps no exemplars, so it has no NME to
    /// hold an NME-reporting method (iCaRL) against, and here NME over herded exemplars even
    /// beats the jointly trained CNN head. Both bounds run with the same AANets switch.
    @Test(arguments: MethodRegistry.names, aanetsSwitch)
    func beatsFineTuningAndStaysUnderJoint(name: String, aanets: Bool) throws {
        let finetune = try ConformanceRuns.shared.runs("finetune", aanets: aanets).primary.cnnAverage
        let joint = try ConformanceRuns.shared.runs("joint", aanets: aanets).primary.cnnAverage
        let method = try ConformanceRuns.shared.runs(name, aanets: aanets).primary
        let label = "\(name)\(aanets ? "+aanets" : ""): \(method.reportedClassifier) \(method.reportedAverage), CNN \(method.cnnAverage); finetune \(finetune), joint \(joint)"
        switch name {
        case "finetune", "joint":
            #expect(joint > finetune, "\(label)")
        case "lwf":
            #expect(method.cnnAverage < joint, "\(label)")
            // The explanation below, checked: with the same linear head, LwF does beat
            // fine-tuning, and it loses at phase 0 already, before any distillation.
            let linear = try ProbedRun.run("finetune", aanets: aanets, memory: .perClass(ConformanceSetup.standard.exemplarsPerClass),
                                           settings: ["head": "linear"])
            let finetunePhaseZero = try ConformanceRuns.shared.runs("finetune", aanets: aanets).primary.records[0].cnnAccuracy
            #expect(method.reportedAverage > linear.cnnAverage, "\(label); finetune with a linear head \(linear.cnnAverage)")
            #expect(method.records[0].cnnAccuracy < finetunePhaseZero, "\(label); phase 0: lwf \(method.records[0].cnnAccuracy), finetune \(finetunePhaseZero)")
            withKnownIssue("""
                LwF (default LwF.MC: linear head, sigmoid BCE, no exemplars) loses to fine-tuning with its \
                default cosine head here (0.379 vs 0.576; with AANets 0.369 vs 0.644). The gap opens at \
                phase 0, before any distillation: LwF's linear head trained with BCE reaches 0.75 there, \
                the fine-tuning cosine head trained with CE 1.00. After phase 0 neither keeps old classes \
                on this tiny problem, so the head decides the comparison; against fine-tuning with the \
                same linear head (head=linear) LwF wins, which the two expectations above check.
                """) {
                #expect(method.reportedAverage > finetune, "\(label)")
            }
        case "podnet" where aanets:
            #expect(method.cnnAverage < joint, "\(label)")
            // The explanation below, checked: phase 0 (no AANets yet) is plain PODNet's phase 0,
            // it loses to fine-tuning there, and from phase 1 on, with AANets, it is never behind.
            let plain = try ConformanceRuns.shared.runs(name, aanets: false).primary.records
            let tuned = try ConformanceRuns.shared.runs("finetune", aanets: aanets).primary.records
            try #require(method.records.count == 3 && plain.count == 3 && tuned.count == 3)
            #expect(method.records[0].cnnCorrect == plain[0].cnnCorrect && method.records[0].epochs.map(\.losses) == plain[0].epochs.map(\.losses),
                    "\(label); phase 0 differs from plain podnet's")
            #expect(method.records[0].cnnAccuracy < tuned[0].cnnAccuracy, "\(label); phase 0: podnet \(method.records[0].cnnAccuracy), finetune \(tuned[0].cnnAccuracy)")
            for k in 1..<3 {
                #expect(method.records[k].cnnAccuracy >= tuned[k].cnnAccuracy, "\(label); phase \(k): podnet \(method.records[k].cnnAccuracy), finetune \(tuned[k].cnnAccuracy)")
            }
            withKnownIssue("""
                PODNet+AANets loses to fine-tuning+AANets here (CNN 0.627 vs 0.644) only through phase 0, \
                which runs before AANets exists and is plain PODNet's phase 0: 0.850 (34/40) against \
                fine-tuning's 1.000 (its cosine head with CE). From phase 1 on PODNet+AANets is never \
                behind (0.571 vs 0.571, 0.460 vs 0.360), which the expectations above check. Not \
                undertraining of η: η grows from 1 to 3.44 in phase 0, and scale_init 16 is worse \
                (0.538); not the balanced finetuning: finetune_epochs 0 is worse (0.583); α stays at \
                0.50 for both methods at this α learning rate. Plain podnet passes because plain \
                fine-tuning forgets more (0.576).
                """) {
                #expect(method.reportedAverage > finetune, "\(label)")
            }
        default:
            #expect(method.reportedAverage > finetune, "\(label)")
            #expect(method.cnnAverage < joint, "\(label)")
        }
    }
}
