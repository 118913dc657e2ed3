import CILKernels
import CILMethods
import CILNetworks
import Foundation
import Testing

/// Mnemonics' exemplar step against the reference's own `Trainer.train()` ([MAN]
/// `mnemonics-training/1_train/trainer/mnemonics.py`; fixtures `mnemonics-phase{0,1}-k{1,3}`,
/// generate.py `mnemonics_exemplar_step`): 3 classes of 12 formula images, phase 0 with 2
/// classes (every class's exemplars are learnable), phase 1 with 1 new class (old means from
/// the exemplars phase 0 stored), 4 exemplars per class, k SGD steps over one query batch at
/// the fixture's rate, through `Mnemonics.afterExemplarSelection` as the runner calls it.
/// Compared: herding's selection (exactly), every step's loss (1e-5), the objective's pixel
/// gradient (1e-4; it is ~1e-3 of the weight decay's share of each update, so the updates
/// alone could not see it), the optimised exemplars and their update (1e-4), and the uint8
/// exemplars written back (G15: truncated under `reference`).
@Suite struct ReferenceMnemonicsTests {
    static let perClass = 12
    static let exemplarsPerClass = 4
    static let mean: [Float] = [0.5071, 0.4866, 0.4409], std: [Float] = [0.2009, 0.1984, 0.2023]

    /// The stand-in training split: image `c·12 + i` is `mnemonics.class<c>` image i; labels
    /// are learning positions through the fixture's class order. Batches are the whole index
    /// list in one batch without augmentation, as the reference's one-batch loader with the
    /// augmentation off (its shuffle only permutes the batch, whose loss is a mean).
    final class FormulaSplit: PhaseData, TrainingBatchSource {
        var pixels: [[UInt8]]
        let order: [Int]
        let exemplars: [[Int]]
        private var pending: TrainingBatch?

        init(order: [Int], exemplars: [[Int]], pixels: [[UInt8]]) {
            self.order = order
            self.exemplars = exemplars
            self.pixels = pixels
        }

        static func formulaPixels(classes: Int) -> [[UInt8]] {
            (0..<classes).flatMap { c -> [[UInt8]] in
                let words = ReferenceFixtures.words("mnemonics.class\(c)", count: perClass * 3072)
                return (0..<perClass).map { i in words[(i * 3072)..<((i + 1) * 3072)].map { UInt8($0 >> 56) } }
            }
        }

        static func normalise(_ images: [[UInt8]], channelReversed: Bool = false) -> Tensor {
            let scalars = images.flatMap { image in
                image.indices.map { i -> Float in
                    let c = i % 3
                    let source = channelReversed ? i - c + (2 - c) : i
                    return (Float(image[source]) / 255 - mean[c]) / std[c]
                }
            }
            return Tensor(shape: [images.count, 32, 32, 3], scalars: scalars, layout: .nhwc)
        }

        func position(of index: Int) -> Int32 { Int32(order.firstIndex(of: index / perClass)!) }
        func trainingIndices(ofClass position: Int) throws -> [Int] { (0..<perClass).map { order[position] * perClass + $0 } }
        func batches(indices: [Int], batchSize: Int, purpose: String, epoch: Int, shuffle: Bool) throws -> any TrainingBatchSource {
            #expect(batchSize >= indices.count, "the reference's loader is one batch")
            pending = TrainingBatch(images: try images(at: indices), labels: indices.map(position))
            return self
        }
        func next() throws -> TrainingBatch? {
            defer { pending = nil }
            return pending
        }
        func images(at indices: [Int]) throws -> Tensor { Self.normalise(indices.map { pixels[$0] }) }
        /// G1 under `reference` on CIFAR: the channel-reversed copy.
        func classMeanViews(at indices: [Int]) throws -> [Tensor] {
            [try images(at: indices), Self.normalise(indices.map { pixels[$0] }, channelReversed: true)]
        }
        func storedImages(for replacement: ImageReplacement) throws -> Tensor {
            let stored = ImageReplacement.pixels(normalised: replacement.images.floats, mean: mean, std: std, rounding: replacement.rounding)
            return Self.normalise((0..<replacement.indices.count).map { Array(stored[($0 * 3072)..<(($0 + 1) * 3072)]) })
        }
    }

    static func bytes(_ base64: Any?) throws -> [UInt8] {
        guard let text = base64 as? String, let data = Data(base64Encoded: text) else { throw ReferenceFixtures.FixtureError.malformed("stored bytes") }
        return [UInt8](data)
    }

    /// NHWC images in PyTorch's NCHW order (the fixture's statistics index that order).
    static func nchw(_ t: Tensor) -> Tensor {
        let n = t.shape[0], h = t.shape[1], w = t.shape[2], c = t.shape[3], v = t.doubles
        var out = [Double](repeating: 0, count: v.count)
        for i in 0..<n { for y in 0..<h { for x in 0..<w { for k in 0..<c {
            out[((i * c + k) * h + y) * w + x] = v[((i * h + y) * w + x) * c + k]
        } } } }
        return Tensor(shape: [n, c, h, w], scalars: out)
    }

    static func rows(_ t: Tensor, _ picks: [Int]) -> Tensor {
        let size = t.count / t.shape[0], v = t.floats
        return Tensor(shape: [picks.count] + Array(t.shape.dropFirst()), scalars: picks.flatMap { v[($0 * size)..<(($0 + 1) * size)] }, layout: t.layout)
    }

    struct Outcome {
        var report = ReferenceEquivalenceTests.Report()
        var storedMismatches = 0, storedWorst = 0, storedTotal = 0, roundedMismatches = 0
    }

    static func run(phase: Int, steps: Int) throws -> Outcome {
        let fixture = try ReferenceEquivalenceTests.fixture("mnemonics-phase\(phase)-k\(steps)")
        let order = fixture["class_order"] as? [Int] ?? []
        let newClasses = fixture["new_classes"] as? [Int] ?? []
        let oldClasses = fixture["old_classes"] as? [Int] ?? []
        let referenceExemplars = fixture["exemplars"] as? [[Int]] ?? []
        let optimised = fixture["optimised"] as? [[String: Any]] ?? []
        let losses = fixture["losses"] as? [Double] ?? []
        let learningRate = fixture["outer_lr"] as? Double ?? .nan
        #expect(order.count == 3 && newClasses.count == referenceExemplars.count && newClasses.count == optimised.count)

        let engine = try ComputeEngine(threads: 1)
        let network = ReferenceEquivalenceTests.formulaNetwork(sigma: nil)
        var pixels = FormulaSplit.formulaPixels(classes: 3)
        // Phase 1 starts from the exemplars phase 0 stored in the reference run.
        let oldStored = fixture["old_stored"] as? [Any] ?? []
        var oldExemplars: [[Int]] = []
        for (k, c) in oldClasses.enumerated() {
            let bytes = try Self.bytes(oldStored[k])
            let picks = try Self.referencePicks(phase: 0, classID: c)
            for (j, i) in picks.enumerated() { pixels[c * perClass + i] = Array(bytes[(j * 3072)..<((j + 1) * 3072)]) }
            oldExemplars.append(picks.map { c * perClass + $0 })
        }
        #expect(oldClasses.map { order.firstIndex(of: $0)! } == Array(0..<oldClasses.count), "old classes come first in the order")

        // Herding on the original view of each new class's images, as the harness selects.
        var outcome = Outcome()
        var newExemplars: [[Int]] = []
        for (k, c) in newClasses.enumerated() {
            let indices = (0..<perClass).map { c * perClass + $0 }
            let g = Graph(engine: engine, recordsGradients: false)
            let features = g[try network.forward(g, images: g.constant(FormulaSplit.normalise(indices.map { pixels[$0] })), mode: .evaluation).features.pooled]
            let ranked = Herding.rank(features, count: exemplarsPerClass)
            #expect(ranked.sorted() == referenceExemplars[k], "herding, class \(c)")
            newExemplars.append(ranked.map { indices[$0] })
        }
        let split = FormulaSplit(order: order, exemplars: oldExemplars + newExemplars, pixels: pixels)
        let context = PhaseContext(phase: phase, phaseCount: 2, oldClasses: oldClasses.count, newClasses: newClasses.count,
                                   epochs: 0, exemplarsPerClass: exemplarsPerClass, seed: 1, engine: engine)
        let method = try Mnemonics(settings: MethodSettings(["mnemonics_lr": "\(learningRate)", "mnemonics_epochs": "\(steps)"]))
        method.retainsOptimisedImages = true
        let replacements = try method.afterExemplarSelection(context, network: network, data: split)
        let report = try #require(method.reports.last)

        #expect(report.losses.count == losses.count)
        for (ours, theirs) in zip(report.losses, losses) { outcome.report.note("loss", ReferenceFixtures.relative(ours, theirs)) }

        for (k, c) in newClasses.enumerated() {
            // The fixture lists a class's exemplars by image index; ours are in herding order.
            let (indices, images) = report.optimised[k]
            let sortedRows = indices.indices.sorted { indices[$0] < indices[$1] }
            let after = rows(images, sortedRows)
            let before = try split.images(at: sortedRows.map { indices[$0] })
            let update = Tensor(shape: after.shape, scalars: zip(after.floats, before.floats).map { $0 - $1 }, layout: .nhwc)
            outcome.report.note("optimised", try ReferenceFixtures.Stats(optimised[k]["value"]).worstRelativeError(nchw(after)), "class \(c)")
            outcome.report.note("update", try ReferenceFixtures.Stats(optimised[k]["update"]).worstRelativeError(nchw(update)), "class \(c)")

            let theirs = try Self.bytes(optimised[k]["stored"])
            let replacement = try #require(replacements.first { $0.indices == indices })
            let stored = ImageReplacement.pixels(normalised: rows(replacement.images, sortedRows).floats, mean: mean, std: std, rounding: replacement.rounding)
            let rounded = ImageReplacement.pixels(normalised: after.floats, mean: mean, std: std, rounding: .nearest)
            for (i, (a, b)) in zip(stored, theirs).enumerated() {
                let d = abs(Int(a) - Int(b))
                if d != 0 { outcome.storedMismatches += 1 }
                outcome.storedWorst = max(outcome.storedWorst, d)
                if rounded[i] != b { outcome.roundedMismatches += 1 }
            }
            outcome.storedTotal += theirs.count
        }

        // The objective's gradient at the herding exemplars (k = 1: the fixture records the
        // gradient of the only step), through the same objective the method builds.
        if steps == 1 {
            let frozen = network.frozenCopy().backbone
            let probe = MnemonicsObjective(backbone: frozen, oldMeans: nil, engine: engine)
            let oldMeans = oldExemplars.isEmpty ? nil : try probe.unitMeans(oldExemplars.map { try split.classMeanViews(at: $0) })
            let objective = MnemonicsObjective(backbone: frozen, oldMeans: oldMeans, engine: engine)
            let parameters = try newExemplars.enumerated().map { k, e in Parameter(name: "class\(k)", value: try split.images(at: e.sorted())) }
            let query = newClasses.flatMap { c in (0..<perClass).map { c * perClass + $0 } } + oldExemplars.flatMap { $0 }
            let loss = try objective.accumulateGradient(exemplars: parameters, queryFeatures: try objective.features(try split.images(at: query)),
                                                        labels: query.map(split.position))
            outcome.report.note("loss (objective)", ReferenceFixtures.relative(loss, losses[0]))
            for (k, p) in parameters.enumerated() {
                let gradient = try #require(p.gradient)
                outcome.report.note("gradient", try ReferenceFixtures.Stats(optimised[k]["last_gradient"]).worstRelativeError(nchw(gradient)), "class \(newClasses[k])")
            }
        }
        return outcome
    }

    /// The image indices the reference kept for `classID` in `phase` (sorted).
    static func referencePicks(phase: Int, classID: Int) throws -> [Int] {
        let fixture = try ReferenceEquivalenceTests.fixture("mnemonics-phase\(phase)-k1")
        let classes = fixture["new_classes"] as? [Int] ?? []
        let exemplars = fixture["exemplars"] as? [[Int]] ?? []
        guard let k = classes.firstIndex(of: classID) else { throw ReferenceFixtures.FixtureError.malformed("class \(classID) not new in phase \(phase)") }
        return exemplars[k]
    }

    @Test(arguments: [0, 1], [1, 3]) func exemplarStepMatchesTheReference(phase: Int, steps: Int) throws {
        let outcome = try Self.run(phase: phase, steps: steps)
        print("reference-equivalence mnemonics-phase\(phase)-k\(steps): \(outcome.report); stored uint8: \(outcome.storedMismatches) of \(outcome.storedTotal) differ (worst \(outcome.storedWorst) level), rounding instead of truncating: \(outcome.roundedMismatches)")
        for kind in ["loss"] + (steps == 1 ? ["loss (objective)"] : []) {
            #expect((outcome.report.worst[kind] ?? .nan) <= ReferenceEquivalenceTests.lossTolerance, "\(kind): \(outcome.report)")
        }
        for kind in ["optimised", "update"] + (steps == 1 ? ["gradient"] : []) {
            #expect((outcome.report.worst[kind] ?? .nan) <= ReferenceEquivalenceTests.parameterTolerance, "\(kind): \(outcome.report)")
        }
        // Values a float32 ulp from a level may truncate either way; nothing else may differ.
        #expect(outcome.storedWorst <= 1 && outcome.storedMismatches * 1000 <= outcome.storedTotal, "stored: \(outcome.storedMismatches) of \(outcome.storedTotal)")
        // G15: rounding (what `corrected` stores) is measurably not what the reference stores.
        #expect(outcome.roundedMismatches * 10 > outcome.storedTotal)
    }
}
