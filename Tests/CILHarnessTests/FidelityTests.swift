import CILData
import CILHarness
import CILMethods
import Foundation
import Testing

/// The `fidelity` switch: each quirk's two settings on inputs small
/// enough to compute by hand, and both fidelities end to end on `smoke`.
@Suite struct FidelityTests {
    /// Two 1×2 RGB images, identity transform, normalisation mean 0 std 1: bytes / 255.
    static func tinyImages() throws -> ImageDataset {
        try ImageDataset(name: "tiny", height: 1, width: 2, channels: 3,
                         pixels: [10, 20, 30, 40, 50, 60, /* image 1 */ 0, 255, 51, 102, 0, 0],
                         labels: [0, 0], classNames: ["a"])
    }

    static func viewed(_ view: Preprocessing.View) throws -> [Float] {
        let plain = Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil,
                                  normalization: try Normalization(mean: [0, 0, 0], std: [1, 1, 1]))
        let assembler = BatchAssembler(source: try tinyImages(), preprocessing: plain.viewing(view), seed: 3)
        return try assembler.assemble(indices: [0, 1], phase: 0, epoch: 0).images.floats.map { ($0 * 255).rounded() }
    }

    /// G1: the reference's "flip" reverses the channel axis of the stored bytes (RGB → BGR),
    /// `corrected` mirrors left–right; both before normalisation.
    @Test func channelReversalAndMirrorViews() throws {
        #expect(try Self.viewed(.original) == [10, 20, 30, 40, 50, 60, 0, 255, 51, 102, 0, 0])
        #expect(try Self.viewed(.channelReversed) == [30, 20, 10, 60, 50, 40, 51, 255, 0, 0, 0, 102])
        #expect(try Self.viewed(.horizontallyFlipped) == [40, 50, 60, 10, 20, 30, 102, 0, 0, 0, 255, 51])
    }

    /// G1 class mean of a 2-exemplar class, by hand. Original features (3,4) and (1,0)
    /// normalise to (0.6,0.8) and (1,0); their second views (0,2) and (4,3) to (0,1) and
    /// (0.8,0.6). Two views: normalise((2.4, 2.4)) = (1/√2, 1/√2). One view:
    /// normalise((1.6, 0.8)) = (2/√5, 1/√5).
    @Test func classMeanAveragesNormalisedViewsThenRenormalises() {
        let original = Tensor(shape: [2, 2], scalars: [Float(3), 4, 1, 0])
        let second = Tensor(shape: [2, 2], scalars: [Float(0), 2, 4, 3])
        let two = ClassMeanViews.means([original, second], groups: [[0, 1]]).floats
        let one = ClassMeanViews.means([original], groups: [[0, 1]]).floats
        #expect(abs(two[0] - Float(0.5).squareRoot()) < 1e-6 && abs(two[1] - Float(0.5).squareRoot()) < 1e-6)
        #expect(abs(one[0] - 2 / Float(5).squareRoot()) < 1e-6 && abs(one[1] - 1 / Float(5).squareRoot()) < 1e-6)
    }

    @Test func classMeanViewsFollowPreprocessingAndFidelity() {
        #expect(ClassMeanViews.forPreprocessing(.lucirCIFAR, fidelity: .reference) == .withChannelReversed)
        #expect(ClassMeanViews.forPreprocessing(.lucirCIFAR, fidelity: .corrected) == .withHorizontalFlip)
        #expect(ClassMeanViews.forPreprocessing(.podnetCIFAR, fidelity: .reference) == .withHorizontalFlip)
        #expect(ClassMeanViews.forPreprocessing(.aanetsImageNet, fidelity: .reference) == .original)
        #expect(ClassMeanViews.forPreprocessing(.lucirImageNet, fidelity: .corrected) == .original)
    }

    /// G3 on a fake gradient sequence: α₀ = 0.5, SGD lr 0.1, momentum 0.9, no decay; a θ
    /// pass leaves α a gradient 0.5, then two α batches give 1 and 2.
    /// corrected: steps on 1 then 2: v = 1, α = 0.4; v = 0.9 + 2 = 2.9, α = 0.11.
    /// reference: steps on 0.5 + 1 = 1.5 then 0.5 + 1 + 2 = 3.5: v = 1.5, α = 0.35;
    ///            v = 1.35 + 3.5 = 4.85, α = −0.135.
    @Test(arguments: [(false, [0.4, 0.11]), (true, [0.35, -0.135])])
    func alphaAfterTwoSteps(accumulates: Bool, expected: [Double]) {
        let alpha = Parameter(name: "aggregation.alpha1", value: Tensor(filled: 0.5, shape: [1], dtype: .float64), group: "alpha")
        var policy = AlphaGradient(accumulates: accumulates)
        var sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 0)
        alpha.gradient = Tensor(filled: 0.5, shape: [1], dtype: .float64)
        policy.absorbTrainingGradient([alpha])
        SGD.zeroGradients([alpha])   // the θ optimiser drops it (α's lr is 0 there)
        var seen: [Double] = []
        for g in [1.0, 2.0] {
            alpha.gradient = Tensor(filled: g, shape: [1], dtype: .float64)
            policy.step([alpha], optimizer: &sgd)
            seen.append(alpha.value.scalarValue)
        }
        #expect(zip(seen, expected).allSatisfy { abs($0 - $1) < 1e-12 }, "\(seen)")
        #expect(policy.sum == (accumulates ? [3.5] : nil))
    }

    /// G13: the reference draws nb_cl × m from the pooled new-class images with replacement
    /// (10 draws from 6 images must repeat); `corrected` takes m distinct images per class,
    /// or the whole class when it has fewer. Old exemplars come first, unchanged.
    @Test func balancedSetWithAndWithoutReplacement() {
        let pools = [[0, 1, 2], [10, 11, 12]], exemplars = [100, 101]
        let reference = BalancedSet.draw(newClassPools: pools, exemplars: exemplars, perClass: 5, fidelity: .reference, seed: 7, phase: 1)
        #expect(reference.count == 2 + 10 && Array(reference.prefix(2)) == exemplars)
        #expect(Set(reference.dropFirst(2)).count < 10)
        #expect(reference.dropFirst(2).allSatisfy { pools.joined().contains($0) })
        #expect(reference == BalancedSet.draw(newClassPools: pools, exemplars: exemplars, perClass: 5, fidelity: .reference, seed: 7, phase: 1))

        let two = BalancedSet.draw(newClassPools: pools, exemplars: exemplars, perClass: 2, fidelity: .corrected, seed: 7, phase: 1)
        #expect(two.count == 2 + 4 && Array(two.prefix(2)) == exemplars)
        #expect(Set(two[2..<4]).count == 2 && two[2..<4].allSatisfy { pools[0].contains($0) })
        #expect(Set(two[4..<6]).count == 2 && two[4..<6].allSatisfy { pools[1].contains($0) })
        let all = BalancedSet.draw(newClassPools: pools, exemplars: exemplars, perClass: 5, fidelity: .corrected, seed: 7, phase: 1)
        #expect(Set(all[2..<5]) == Set(pools[0]) && Set(all[5..<8]) == Set(pools[1]) && all.count == 8)
    }

    /// The fidelity reaches the run from the method block (here by `--set`) and is recorded
    /// in the manifest's resolved settings even when defaulted; G4's convention is there too.
    @Test func fidelityIsResolvedAndRecorded() throws {
        let library = ProtocolLibrary(directory: protocolsFolder)
        let defaulted = try library.load("smoke")
        let corrected = try library.load("smoke", overrides: ["methods.lucir.fidelity=corrected"])
        #expect(defaulted.resolvedSettings(method: "lucir", aanets: true)["method.fidelity"] == "reference")
        #expect(defaulted.resolvedSettings(method: "finetune", aanets: false)["method.fidelity"] == "reference")
        #expect(corrected.resolvedSettings(method: "lucir", aanets: true)["method.fidelity"] == "corrected")
        #expect(defaulted.resolvedSettings(method: "lucir", aanets: true)["training.schedule.steps_at_epoch_start"] == "false")
        #expect(corrected.fingerprint != defaulted.fingerprint)
        let plan = try RunPlan(protocol: corrected, method: "lucir", aanets: true, seed: 1, dataRoot: nil, threads: 2)
        #expect(plan.configuration.fidelity == .corrected && plan.configuration.classMeanViews == .withHorizontalFlip)
        let reference = try RunPlan(protocol: defaulted, method: "lucir", aanets: true, seed: 1, dataRoot: nil, threads: 2)
        #expect(reference.configuration.fidelity == .reference && reference.configuration.classMeanViews == .withChannelReversed)
        #expect(plan.phaseZeroKey(threads: 2, build: "x") != reference.phaseZeroKey(threads: 2, build: "x"))
        #expect(throws: MethodError.self) { try RunPlan(protocol: library.load("smoke", overrides: ["methods.lucir.fidelity=exact"]), method: "lucir", aanets: false, seed: 1, dataRoot: nil, threads: 2) }
    }

    /// Both fidelities of LUCIR + AANets on `smoke`, end to end into a bundle: they share
    /// phase 0's training (only its NME class means differ, G1), then part (G3, G13); each
    /// bundle's manifest names its fidelity; the reference run's α gradient accumulated.
    @Test func bothFidelitiesRunEndToEndOnSmoke() throws {
        let library = ProtocolLibrary(directory: protocolsFolder)
        var outcomes: [Fidelity: [PhaseOutcome]] = [:]
        for fidelity in Fidelity.allCases {
            let file = try library.load("smoke", overrides: ["methods.lucir.fidelity=\(fidelity.rawValue)", "methods.aanets.alpha_lr=0.01"])
            let plan = try RunPlan(protocol: file, method: "lucir", aanets: true, seed: 1, dataRoot: nil, threads: 2)
            let runner = try Runner(configuration: plan.configuration, method: plan.method, engine: ComputeEngine(threads: 2))
            let records = try runner.run()
            #expect(runner.alphaGradient.accumulates == (fidelity == .reference))
            #expect((runner.alphaGradient.sum != nil) == (fidelity == .reference))
            let testImages = records.last!.testImages
            let result = RunResult(protocol: file, method: "lucir", aanets: true, seed: 1, cilbenchVersion: "test", gitRevision: "test",
                                   datasetDigest: plan.datasetDigest, environment: [:], startedAt: Date(timeIntervalSince1970: 0),
                                   finishedAt: Date(timeIntervalSince1970: 1), phases: records.map(\.record),
                                   cnn: try AccuracyMatrix(correct: records.map(\.cnnCorrect), testImages: testImages),
                                   nme: try AccuracyMatrix(correct: records.map { $0.nmeCorrect! }, testImages: testImages), log: records.flatMap(\.epochs))
            let decoded = try ResultBundle.decode(ResultBundle.encode(result))
            #expect(decoded.hyperParameters["method.fidelity"] == fidelity.rawValue)
            #expect(decoded.hyperParameters["method.class_mean_views"] == (fidelity == .reference ? "with-channel-reversed" : "with-horizontal-flip"))
            outcomes[fidelity] = records
        }
        let reference = try #require(outcomes[.reference]), corrected = try #require(outcomes[.corrected])
        #expect(reference[0].parameterDigest == corrected[0].parameterDigest)
        #expect(reference[1].parameterDigest != corrected[1].parameterDigest)
    }

    /// G3's running sum lives across phases, so it is checkpointed: a run resumed after
    /// phase 1 ends phase 2 with the unbroken run's digests, and a resume that lost the sum
    /// would not (α's learning rate raised so α moves at float32 precision).
    @Test func accumulatedAlphaGradientSurvivesResume() throws {
        let file = try ProtocolLibrary(directory: protocolsFolder).load("smoke", overrides: ["methods.aanets.alpha_lr=0.01"])
        let plan = try RunPlan(protocol: file, method: "lucir", aanets: true, seed: 1, dataRoot: nil, threads: 2)
        let unbroken = try Runner(configuration: plan.configuration, method: plan.method, engine: ComputeEngine(threads: 2))
        _ = try unbroken.runNextPhase()
        _ = try unbroken.runNextPhase()
        let (checkpoint, tensors) = try unbroken.checkpoint(runFingerprint: plan.runFingerprint)
        let sum = try #require(checkpoint.alphaGradientSum)
        #expect(!sum.isEmpty && sum.allSatisfy { $0 != 0 })
        let last = try unbroken.runNextPhase()

        let named = Dictionary(uniqueKeysWithValues: zip(checkpoint.parameters.map(\.name), tensors))
        func resumed(_ checkpoint: Checkpoint) throws -> PhaseOutcome {
            let fresh = try RunPlan(protocol: file, method: "lucir", aanets: true, seed: 1, dataRoot: nil, threads: 2)
            let runner = try Runner(configuration: fresh.configuration, method: fresh.method, engine: ComputeEngine(threads: 2))
            try runner.restore(checkpoint, tensors: named, runFingerprint: plan.runFingerprint)
            return try runner.runNextPhase()
        }
        #expect(try resumed(checkpoint).parameterDigest == last.parameterDigest)
        var lost = checkpoint
        lost.alphaGradientSum = nil
        #expect(try resumed(lost).parameterDigest != last.parameterDigest)
    }
}
