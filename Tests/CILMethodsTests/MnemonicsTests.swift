import CILData
import CILHarness
import CILMethods
import Foundation
import Testing

/// Mnemonics ([MAN] `mnemonics-training/1_train/trainer/mnemonics.py` l.302-374): the
/// exemplar objective's pixel gradient, that the pass lowers it, that
/// the replaced images are what the harness stores and uses, resume, and smoke runs with and
/// without AANets.
@Suite(.serialized) struct MnemonicsTests {
    /// A learning rate at which the smoke problem's pixels move by whole uint8 steps (the
    /// code's 1e-5 moves none, see `defaultRateMovesNoStoredPixel`).
    static let visibleRate = "20"

    static func configuration(aanets: Bool) throws -> RunConfiguration {
        var configuration = try SmokeRuns.configuration()
        configuration.aanets = aanets ? AANetsSettings(alphaLearningRate: 1e-3, balancedPerClass: 5, balancedBatchSize: 32) : nil
        return configuration
    }

    static func method(_ settings: [String: String] = [:]) throws -> Mnemonics {
        try Mnemonics(settings: MethodSettings(settings))
    }

    static func random(_ shape: [Int], seed: UInt64, scale: Double = 1) -> Tensor {
        var stream = RandomStream(seed: seed, purpose: "test.mnemonics")
        return Tensor(shape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in (stream.nextDouble() * 2 - 1) * scale }, layout: shape.count == 4 ? .nhwc : .plain)
    }

    /// ∂L/∂pixels of the objective (two-stage backward through a frozen ResNet-32, plain and
    /// AANets, evaluation mode, with old-class means) against float64 central differences.
    @Test func pixelGradientMatchesFloat64FiniteDifferences() throws {
        let engine = try ComputeEngine(threads: 2)
        for aanets in [false, true] {
            let plain = ResNet(.resnet32, seed: 11)
            let backbone: any Backbone = aanets ? AANetsBackbone(phaseZero: plain, initialAlpha: 0.3) : plain
            let network = Network(backbone: backbone, head: CosineLinearHead(featureDimension: 64, classes: 4, seed: 11)).frozenCopy()
            for p in network.parameters { p.value = p.value.converted(to: .float64) }
            // Non-trivial running statistics, so evaluation-mode BN is not the identity.
            for p in network.parameters where p.name.hasSuffix("running_mean") { p.value = Self.random(p.value.shape, seed: 3, scale: 0.2) }
            let oldMeans = MnemonicsObjective(backbone: network.backbone, oldMeans: nil, engine: engine)
            let objective = MnemonicsObjective(backbone: network.backbone, oldMeans: try oldMeans.unitMeans([[Self.random([2, 6, 6, 3], seed: 4)], [Self.random([2, 6, 6, 3], seed: 5)]]), engine: engine)
            let pixels = [Parameter(name: "c2", value: Self.random([2, 6, 6, 3], seed: 6)), Parameter(name: "c3", value: Self.random([3, 6, 6, 3], seed: 7))]
            let queries = Self.random([5, 64], seed: 8), labels: [Int32] = [0, 2, 3, 1, 3]
            try objective.accumulateGradient(exemplars: pixels, queryFeatures: queries, labels: labels)
            #expect(network.parameters.allSatisfy { $0.gradient == nil }, "the network is frozen for the pass")

            func value() throws -> Double { try objective.loss(exemplars: pixels.map(\.value), queryFeatures: queries, labels: labels) }
            func difference(_ p: Parameter, _ i: Int, _ eps: Double) throws -> Double {
                p.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] += eps }
                let plus = try value()
                p.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] -= 2 * eps }
                let minus = try value()
                p.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] += eps }
                return (plus - minus) / (2 * eps)
            }
            var stream = RandomStream(seed: 9, purpose: "test.mnemonics.coordinates")
            var analytic: [Double] = [], numeric: [Double] = [], kinks = 0
            for k in 0..<12 {
                let p = pixels[k % 2], i = stream.nextInt(below: p.value.count)
                let coarse = try difference(p, i, 1e-6), fine = try difference(p, i, 1e-7)
                if abs(coarse - fine) > 1e-5 * max(abs(fine), 1e-3) { kinks += 1; continue }
                analytic.append(p.gradient?.doubles[i] ?? 0)
                numeric.append(coarse)
            }
            let scale = max(numeric.map(abs).max() ?? 0, 1e-30)
            let error = zip(analytic, numeric).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
            print("mnemonics pixel gradient (aanets \(aanets)): \(analytic.count) coordinates, \(kinks) next to a kink, max|err|/max|ref| \(error), max|ref| \(scale)")
            #expect(kinks <= 3)
            #expect(scale > 1e-8, "the gradient reaches the pixels")
            #expect(error < 1e-6)
        }
    }

    /// With a rate that moves pixels, the pass lowers the objective on its first query batch
    /// in every phase, measured on the exemplars as stored (uint8, rounded: under
    /// `reference` the code's truncation, G15, lowers levels by itself and can undo it).
    @Test func optimisationLowersTheObjective() throws {
        let mnemonics = try Self.method(["mnemonics_lr": Self.visibleRate, "mnemonics_batch_size": "32", "fidelity": "corrected"])
        _ = try Runner(configuration: Self.configuration(aanets: false), method: mnemonics, engine: ComputeEngine(threads: 2)).run()
        #expect(mnemonics.reports.map(\.phase) == [0, 1, 2])
        for report in mnemonics.reports {
            print(report.summary)
            #expect(report.firstBatchLossAfter < report.firstBatchLossBefore, "phase \(report.phase)")
            #expect(report.changedValues > 0)
        }
    }

    /// The public code's rate moves float32 pixels by at most ~1e-8 (below half an ulp of
    /// all but values near zero), so what is stored differs from the herding exemplars only by the write-back: nothing
    /// when rounding (`corrected`), some levels lowered by one when truncating as the code
    /// does (`reference`, G15).
    @Test func defaultRateMovesNoStoredPixel() throws {
        for fidelity in ["corrected", "reference"] {
            let mnemonics = try Self.method(["fidelity": fidelity])
            #expect(mnemonics.learningRate(epoch: 0) == 5e-6, "StepLR(1, 0.5) stepped before the first epoch")
            let configuration = try Self.configuration(aanets: false)
            let oneLevel = 1.0001 / 255 / Double(configuration.testPreprocessing.normalization.std.min() ?? 1)
            _ = try Runner(configuration: configuration, method: mnemonics, engine: ComputeEngine(threads: 2)).run()
            for report in mnemonics.reports { print("default rate, \(fidelity): " + report.summary) }
            #expect(mnemonics.reports.allSatisfy { $0.largestOptimisedChange < 1e-6 })
            if fidelity == "corrected" {
                #expect(mnemonics.reports.allSatisfy { $0.changedValues == 0 })
            } else {
                #expect(mnemonics.reports.allSatisfy { $0.changedValues > 0 && $0.largestStoredChange <= oneLevel })
            }
        }
    }

    /// Phase 0 trains as LUCIR's does (same parameters), but the stored exemplars differ,
    /// the harness keeps exactly the de-normalised optimised tensors, truncated (G15), and
    /// the exemplar digest sees them.
    @Test func replacedImagesAreStoredAndUsed() throws {
        let configuration = try Self.configuration(aanets: false)
        let mnemonics = try Self.method(["mnemonics_lr": Self.visibleRate])
        mnemonics.retainsOptimisedImages = true
        let runner = try Runner(configuration: configuration, method: mnemonics, engine: ComputeEngine(threads: 2))
        let phase0 = try runner.runNextPhase()
        let lucir = try Runner(configuration: configuration, method: LUCIR(settings: MethodSettings()), engine: ComputeEngine(threads: 2)).runNextPhase()
        #expect(phase0.record.parameterDigest == lucir.record.parameterDigest)
        #expect(phase0.record.exemplarDigest != lucir.record.exemplarDigest)

        let normalization = configuration.testPreprocessing.normalization
        let optimised = try #require(mnemonics.reports.first?.optimised)
        #expect(optimised.reduce(0) { $0 + $1.indices.count } == runner.imageOverrides.count)
        var mismatches = 0
        for (indices, images) in optimised {
            let values = images.floats, perImage = images.count / indices.count, channels = images.shape[3]
            for (n, index) in indices.enumerated() {
                let stored = try #require(runner.imageOverrides[index])
                for i in 0..<perImage {
                    let c = i % channels
                    let scaled = values[n * perImage + i] * normalization.std[c]
                    let expected = UInt8(max(0, min(255, ((scaled + normalization.mean[c]) * 255).rounded(.towardZero))))
                    if stored[i] != expected { mismatches += 1 }
                }
            }
        }
        #expect(mismatches == 0)
        // The next phase reads them back: its old-class means come from the stored images.
        _ = try runner.runNextPhase()
        #expect(runner.imageOverrides.count > optimised.reduce(0) { $0 + $1.indices.count })
    }

    /// Stopped after phase 1 and resumed from a checkpoint in a new runner (as a new process
    /// would): bit-identical to the unbroken run, with and without AANets.
    @Test func resumedRunEqualsUnbrokenRun() throws {
        for aanets in [false, true] {
            let configuration = try Self.configuration(aanets: aanets)
            let settings = ["mnemonics_lr": Self.visibleRate]
            let unbrokenRunner = try Runner(configuration: configuration, method: Self.method(settings), engine: ComputeEngine(threads: 2))
            let unbroken = try unbrokenRunner.run()
            let first = try Runner(configuration: configuration, method: Self.method(settings), engine: ComputeEngine(threads: 2))
            while first.records.count < 2 { _ = try first.runNextPhase() }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-mnemonics-resume-\(aanets)/phase.ckpt")
            let (checkpoint, tensors) = try first.checkpoint(runFingerprint: "test")
            try Checkpoint.write(checkpoint, tensors: tensors, to: url)
            let (loaded, values) = try Checkpoint.read(from: url)
            let resumed = try Runner(configuration: configuration, method: Self.method(settings), engine: ComputeEngine(threads: 2))
            try resumed.restore(loaded, tensors: values, runFingerprint: "test")
            let records = try resumed.run()
            #expect(!resumed.imageOverrides.isEmpty)
            #expect(resumed.imageOverrides == unbrokenRunner.imageOverrides, "aanets \(aanets)")
            #expect(records.map(\.record.exemplarDigest) == unbroken.map(\.record.exemplarDigest), "aanets \(aanets)")
            #expect(records.map(\.parameterDigest) == unbroken.map(\.parameterDigest), "aanets \(aanets)")
            #expect(records.map(\.predictionDigest) == unbroken.map(\.predictionDigest), "aanets \(aanets)")
        }
    }

    /// End to end with and without AANets: finite accuracies, every phase optimised.
    @Test func smokeRunsWithAndWithoutAANets() throws {
        for aanets in [false, true] {
            let mnemonics = try Self.method(["mnemonics_lr": Self.visibleRate])
            let records = try Runner(configuration: Self.configuration(aanets: aanets), method: mnemonics, engine: ComputeEngine(threads: 2)).run()
            print("mnemonics smoke (aanets \(aanets)): CNN \(SmokeRuns.average(records)), NME \(SmokeRuns.average(records, nme: true))")
            #expect(records.count == 3)
            #expect(records.allSatisfy { $0.cnnAccuracy.isFinite && ($0.nmeAccuracy ?? .nan).isFinite })
            #expect(mnemonics.reports.count == 3)
        }
    }

    @Test func settingsResolveAndPhaseZeroIsNotLUCIRs() throws {
        let m = try Self.method(["mnemonics_lr": "1e-4", "lambda_base": "4", "fidelity": "reference"])
        #expect(m.resolvedSettings["mnemonics_lr"] == "0.0001" && m.resolvedSettings["lambda_base"] == "4.0")
        for key in Mnemonics.ownKeys { #expect(m.resolvedSettings[key] != nil, "\(key)") }
        #expect(m.phaseZeroSignature != cosineCrossEntropyPhaseZero)
        #expect(m.phaseZeroSignature.hasPrefix(cosineCrossEntropyPhaseZero))
        #expect(throws: MethodError.self) { try MethodRegistry.make("mnemonics", settings: MethodSettings(["mnemonics_rate": "1"])) }
        #expect(throws: MethodError.self) { try Self.method(["mnemonics_query": "all"]) }
        #expect(try MethodRegistry.make("mnemonics", settings: MethodSettings()) is Mnemonics)
    }
}
