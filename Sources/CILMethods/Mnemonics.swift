import CILKernels
import CILNetworks
import Foundation

/// Mnemonics (Liu et al., CVPR 2020) on top of LUCIR: the
/// network trains exactly as LUCIR does (a composed `LUCIR` instance supplies head, teacher
/// and losses), and after each phase's herding selection the new classes' exemplars (phase
/// 0: every class's) become learnable pixel tensors, optimised by `MnemonicsObjective`.
///
/// What follows the paper and what follows the public code ([MAN]
/// `mnemonics-training/1_train/trainer/mnemonics.py` l.302-374, `1_train/main.py` l.53-60):
/// - The paper's bilevel problem adapts the model on the exemplars (model level) and then
///   moves the exemplars so the adapted model does well on the phase's data. The code, and
///   this port, solve the model level in closed form: the adapted "model" is the class-mean
///   classifier whose new-class means are the learnable exemplars' mean features, old-class
///   means fixed; only the exemplar level is optimised, by SGD through a frozen network.
///   The paper's later adjustment of old-class exemplars and its MTL weight transfer are not
///   in the code's exemplar step and not here.
/// - Query data: one pass (`mnemonics_epochs`, the code's `mnemonics_total_epochs` 1) over the
///   phase's augmented training set, as the code iterates its `trainloader`: new-class images
///   plus the old classes' exemplars (`mnemonics_query = phase`; `new` drops the exemplars).
///   The code's loader holds the memory from before this phase's reduction; the harness
///   gives the kept exemplars after it, so old classes contribute fewer query images here.
/// - Optimiser: SGD on normalised pixels, momentum 0.9, weight decay 5e-4, lr
///   `mnemonics_lr` = the code's `mnemonics_outer_lr` 1e-5 with StepLR(1, 0.5) stepped at
///   the start of each epoch, so epoch e runs at lr·0.5^(e+1): 5e-6 in the single epoch
///   (the code's `mnemonics_lr` argument is unused by this step).
/// - Old-class means: unit mean of the normalised features of the exemplars in every view
///   the harness's NME means use (`PhaseData.classMeanViews`): under `fidelity: reference`
///   on CIFAR-like data with the code's channel-reversed copy (G1, the code's
///   `class_means[:, c, 0]`).
/// - Write-back: the optimised images are returned as `ImageReplacement`s, which the harness
///   de-normalises, scales by 255 and stores as uint8, truncating as the code's
///   `astype(uint8)` does under `fidelity: reference` (G15) and rounding under
///   `corrected`; later batches, class means, the next phases' training, checkpoints and
///   digests use the stored images.
public final class Mnemonics: IncrementalMethod {
    public static let name = "mnemonics"
    public static let summary = "Mnemonics: LUCIR training + exemplar pixels optimised against a class-mean cosine classifier (public code's one-level objective)"
    public static let ownKeys = ["base_method", "mnemonics_lr", "mnemonics_epochs", "mnemonics_batch_size", "mnemonics_decay_factor", "mnemonics_decay_epochs",
                                 "mnemonics_momentum", "mnemonics_weight_decay", "mnemonics_query"]
    public static let settingKeys = LUCIR.settingKeys + ownKeys

    public let lucir: LUCIR
    public let learningRate: Double
    public let epochs: Int
    public let batchSize: Int
    public let decayFactor: Double
    public let decayEpochs: Int
    public let momentum: Double
    public let weightDecay: Double
    /// `phase`: new-class images plus old exemplars (the code); `new`: new-class images only.
    public let query: String
    public let baseMethod: String
    public let fidelity: Fidelity
    /// What each phase's exemplar optimisation did (losses, pixels changed).
    public private(set) var reports: [MnemonicsReport] = []
    /// Keep the optimised float tensors in the reports (tests compare them with the stored bytes).
    public var retainsOptimisedImages = false

    public init(settings: MethodSettings) throws {
        lucir = try LUCIR(settings: MethodSettings(settings.values.filter { !Self.ownKeys.contains($0.key) }))
        learningRate = try settings.double("mnemonics_lr", default: 1e-5)
        epochs = try settings.int("mnemonics_epochs", default: 1)
        batchSize = try settings.int("mnemonics_batch_size", default: 128)
        decayFactor = try settings.double("mnemonics_decay_factor", default: 0.5)
        decayEpochs = try settings.int("mnemonics_decay_epochs", default: 1)
        momentum = try settings.double("mnemonics_momentum", default: 0.9)
        weightDecay = try settings.double("mnemonics_weight_decay", default: 5e-4)
        query = try settings.string("mnemonics_query", default: "phase", allowed: ["phase", "new"])
        // The protocols name the method Mnemonics is applied to; the code's is LUCIR
        // ([MAN] `mnemonics-training/1_train/trainer/mnemonics.py`).
        baseMethod = try settings.string("base_method", default: "lucir", allowed: ["lucir"])
        fidelity = try settings.fidelity()
        guard learningRate >= 0, learningRate.isFinite else { throw MethodError.badSetting(key: "mnemonics_lr", value: "\(learningRate)", expected: "a finite number ≥ 0") }
        guard epochs >= 0 else { throw MethodError.badSetting(key: "mnemonics_epochs", value: "\(epochs)", expected: "an integer ≥ 0") }
        guard batchSize >= 1 else { throw MethodError.badSetting(key: "mnemonics_batch_size", value: "\(batchSize)", expected: "an integer ≥ 1") }
        guard decayEpochs >= 1 else { throw MethodError.badSetting(key: "mnemonics_decay_epochs", value: "\(decayEpochs)", expected: "an integer ≥ 1") }
    }

    public var resolvedSettings: [String: String] {
        lucir.resolvedSettings.merging([
            "mnemonics_lr": "\(learningRate)", "mnemonics_epochs": "\(epochs)", "mnemonics_batch_size": "\(batchSize)",
            "mnemonics_decay_factor": "\(decayFactor)", "mnemonics_decay_epochs": "\(decayEpochs)",
            "mnemonics_momentum": "\(momentum)", "mnemonics_weight_decay": "\(weightDecay)", "mnemonics_query": query,
            "base_method": baseMethod,
        ]) { _, own in own }
    }

    /// Phase 0 trains as LUCIR's does, but the harness caches phase 0 *after* exemplar
    /// selection, this method's image replacement and evaluation: sharing LUCIR's entry would
    /// hand LUCIR optimised exemplars (or Mnemonics plain ones). So the signature extends
    /// LUCIR's with the exemplar step's settings; Mnemonics runs with and without AANets share.
    public var phaseZeroSignature: String {
        let own = resolvedSettings.filter { Self.ownKeys.contains($0.key) }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        return lucir.phaseZeroSignature + "|mnemonics(" + own.joined(separator: ",") + ")"
    }

    public func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        lucir.makeHead(featureDimension: featureDimension, classes: classes, seed: seed)
    }

    public func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        try lucir.beginPhase(context, network: network, newClassFeatures: newClassFeatures)
    }

    public func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        try lucir.loss(g, network: network, batch: batch, context: context)
    }

    public func endPhase(_ context: PhaseContext, network: Network) throws {
        try lucir.endPhase(context, network: network)
    }

    /// The learning rate of epoch `e`: StepLR(step, γ) stepped at the epoch's start (G4), as
    /// the code calls `scheduler.step()` before its epoch's batches.
    public func learningRate(epoch e: Int) -> Double {
        learningRate * pow(decayFactor, Double((e + 1) / decayEpochs))
    }

    @discardableResult
    public func afterExemplarSelection(_ context: PhaseContext, network: Network, data: any PhaseData) throws -> [ImageReplacement] {
        let finetuningReplacements = try lucir.afterExemplarSelection(context, network: network, data: data)
        let kept = data.exemplars
        guard kept.count >= context.seenClasses else {
            throw MethodError.unsupported("mnemonics: the memory holds \(kept.count) classes, the phase has seen \(context.seenClasses)")
        }
        let newPositions = Array(context.oldClasses..<context.seenClasses)
        let newExemplars = newPositions.map { kept[$0] }
        guard epochs > 0, newExemplars.allSatisfy({ !$0.isEmpty }) else { return finetuningReplacements }

        let frozen = network.frozenCopy().backbone
        let oldGroups = try (0..<context.oldClasses).map { position -> [Tensor] in
            guard !kept[position].isEmpty else { throw MethodError.unsupported("mnemonics: old class \(position) has no exemplars for its mean") }
            return try data.classMeanViews(at: kept[position])
        }
        let probe = MnemonicsObjective(backbone: frozen, oldMeans: nil, engine: context.engine)
        let objective = MnemonicsObjective(backbone: frozen, oldMeans: oldGroups.isEmpty ? nil : try probe.unitMeans(oldGroups), engine: context.engine)

        // The learnable exemplars, one tensor per new class, from the herding selection.
        let initial = try newExemplars.map { try data.images(at: $0) }
        let pixels = zip(newPositions, initial).map { Parameter(name: "mnemonics.class\($0)", value: $1) }
        var queryIndices = try newPositions.flatMap { try data.trainingIndices(ofClass: $0) }
        if query == "phase" { queryIndices += kept[0..<context.oldClasses].flatMap { $0 } }
        // Query labels are learning positions: the means' rows are old positions, then new ones.
        var sgd = SGD(learningRate: learningRate, momentum: momentum, weightDecay: weightDecay)
        var losses: [Double] = []
        var firstBatch: (features: Tensor, labels: [Int32])?
        var firstLossBefore = Double.nan
        for epoch in 0..<epochs {
            sgd.learningRate = learningRate(epoch: epoch)
            let source = try data.batches(indices: queryIndices, batchSize: batchSize, purpose: "mnemonics.query", epoch: epoch, shuffle: true)
            while let batch = try source.next() {
                let queryFeatures = try objective.features(batch.images)
                let value = try objective.accumulateGradient(exemplars: pixels, queryFeatures: queryFeatures, labels: batch.labels)
                if firstBatch == nil {
                    firstBatch = (queryFeatures, batch.labels)
                    firstLossBefore = value
                }
                sgd.step(pixels)
                losses.append(value)
            }
        }

        let rounding: PixelRounding = fidelity == .reference ? .towardZero : .nearest
        let replacements = zip(newExemplars, pixels).map { ImageReplacement(indices: $0, images: $1.value, rounding: rounding) }
        // What the harness will store (uint8 after rounding): how many values move, and the
        // first batch's objective on the stored exemplars.
        let stored = try replacements.map { try data.storedImages(for: $0) }
        var changed = 0, total = 0
        var largest = 0.0
        for (before, after) in zip(initial, stored) {
            for (a, b) in zip(before.doubles, after.doubles) where abs(a - b) > 1e-6 {
                changed += 1
                largest = max(largest, abs(a - b))
            }
            total += before.count
        }
        var optimisedLargest = 0.0
        for (before, p) in zip(initial, pixels) {
            for (a, b) in zip(before.doubles, p.value.doubles) { optimisedLargest = max(optimisedLargest, abs(a - b)) }
        }
        let firstLossAfter = try firstBatch.map { try objective.loss(exemplars: stored, queryFeatures: $0.features, labels: $0.labels) } ?? .nan
        let report = MnemonicsReport(
            phase: context.phase, exemplars: newExemplars.reduce(0) { $0 + $1.count }, losses: losses,
            firstBatchLossBefore: firstLossBefore, firstBatchLossAfter: firstLossAfter,
            changedValues: changed, totalValues: total, largestStoredChange: largest, largestOptimisedChange: optimisedLargest,
            optimised: retainsOptimisedImages ? zip(newExemplars, pixels).map { ($0, $1.value) } : [])
        reports.append(report)
        FileHandle.standardError.write(Data("\(report.summary)\n".utf8))
        return finetuningReplacements + replacements
    }
}

/// What one phase's exemplar optimisation did, for logs and tests.
public struct MnemonicsReport {
    public let phase: Int
    public let exemplars: Int
    /// The objective of every query batch, before its step, in order.
    public let losses: [Double]
    public var queryBatches: Int { losses.count }
    public var meanLoss: Double { losses.reduce(0, +) / Double(max(losses.count, 1)) }
    /// The objective on the pass's first query batch with the herding exemplars, and with the
    /// exemplars as stored (uint8) after the pass.
    public let firstBatchLossBefore: Double
    public let firstBatchLossAfter: Double
    /// Stored uint8 values (pixels × channels) that differ from the herding exemplars'.
    public let changedValues: Int
    public let totalValues: Int
    /// Largest change of a normalised value, as stored and before rounding.
    public let largestStoredChange: Double
    public let largestOptimisedChange: Double
    /// (training indices, optimised normalised images) per new class, if retained.
    public let optimised: [(indices: [Int], images: Tensor)]

    public var summary: String {
        "mnemonics phase \(phase): \(exemplars) exemplars, \(queryBatches) query batches, mean loss \(meanLoss); first batch \(firstBatchLossBefore) → \(firstBatchLossAfter); "
            + "\(changedValues) of \(totalValues) stored values changed (largest normalised change \(largestStoredChange) stored, \(largestOptimisedChange) before rounding)"
    }
}
