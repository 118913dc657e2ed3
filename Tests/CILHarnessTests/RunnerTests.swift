import CILData
import CILHarness
import CILMethods
import Foundation
import Testing

/// End-to-end runs on synthetic data: 10 classes in 3 phases (4 + 3 + 3), 16×16 images.
@Suite(.serialized) struct RunnerTests {
    static func configuration(aanets: Bool = false, alphaLearningRate: Double = 1e-8) throws -> RunConfiguration {
        let train = try SyntheticImages.dataset(classCount: 10, perClass: 40, height: 8, width: 8, seed: 1, split: "train")
        let test = try SyntheticImages.dataset(classCount: 10, perClass: 10, height: 8, width: 8, seed: 2, split: "test")
        let crop = Preprocessing(spatial: .randomCrop(size: 8, padding: 1), horizontalFlip: true, brightness: nil, normalization: .measured(on: train))
        let plain = Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: .measured(on: train))
        return RunConfiguration(
            train: train, test: test, classOrder: ClassOrder.numpyShuffle(seed: 1993, classCount: 10),
            schedule: try PhaseSchedule(totalClasses: 10, initialClasses: 4, increment: 3), memory: .perClass(5),
            backbone: .resnet32, trainPreprocessing: crop, testPreprocessing: plain,
            optimization: Optimization(epochs: 3, batchSize: 32, learningRate: 0.05),
            baseOptimization: Optimization(epochs: 5, batchSize: 32, learningRate: 0.1),
            aanets: aanets ? AANetsSettings(alphaLearningRate: alphaLearningRate, balancedPerClass: 5, balancedBatchSize: 32) : nil, seed: 7)
    }

    static func run(_ method: String, aanets: Bool = false, alphaLearningRate: Double = 1e-8) throws -> [PhaseOutcome] {
        let runner = try Runner(configuration: configuration(aanets: aanets, alphaLearningRate: alphaLearningRate), method: MethodRegistry.make(method, settings: MethodSettings()),
                                engine: ComputeEngine(threads: 2))
        return try runner.run()
    }

    @Test func jointTrainingBeatsFineTuningAndRunsAreDeterministic() throws {
        let finetune = try Self.run("finetune")
        let joint = try Self.run("joint")
        let average = { (r: [PhaseOutcome]) in r.map(\.cnnAccuracy).reduce(0, +) / Double(r.count) }
        print("smoke average incremental accuracy: finetune \(average(finetune)), joint \(average(joint))")
        #expect(finetune.count == 3 && joint.count == 3)
        #expect(finetune.map(\.seenClasses) == [4, 7, 10])
        #expect(joint[0].cnnAccuracy > 0.4)   // chance is 0.25
        #expect(average(joint) > average(finetune))
        // Fine-tuning forgets: the phase-0 classes lose accuracy once new classes arrive.
        #expect(finetune.last!.cnnPhaseZeroAccuracy < finetune[0].cnnPhaseZeroAccuracy)
        let again = try Self.run("finetune")
        #expect(again.map(\.parameterDigest) == finetune.map(\.parameterDigest))
        #expect(again.map(\.predictionDigest) == finetune.map(\.predictionDigest))
    }

    @Test func aanetsSwitchBuildsTwoBranchesAndMovesAlpha() throws {
        // The paper's α learning rate (1e-8) moves a float32 α near 0.5 by less than its last
        // bit (spacing 6e-8), as in the reference PyTorch code; a larger rate shows the pass works.
        let records = try Self.run("joint", aanets: true, alphaLearningRate: 1e-3)
        #expect(records.count == 3)
        let alphas = records[1].epochs.last!.alphas!
        print("AANets α after phase 1 at α-lr 1e-3: \(alphas)")
        #expect(alphas.count == 3)
        #expect(alphas.allSatisfy { $0 != 0.5 && abs($0 - 0.5) < 0.1 })
        #expect(records[0].epochs.last!.alphas == nil)
    }
}

@Suite(.serialized) struct ResumeTests {
    /// A run stopped after phase 1 and resumed from its checkpoint (in a new runner, as a new
    /// process would) ends bit-identical to the unbroken run.
    @Test func resumedRunEqualsUnbrokenRun() throws {
        for aanets in [false, true] {
            let configuration = try RunnerTests.configuration(aanets: aanets)
            let unbroken = try Runner(configuration: configuration, method: MethodRegistry.make("joint", settings: MethodSettings()), engine: ComputeEngine(threads: 2)).run()

            let first = try Runner(configuration: configuration, method: MethodRegistry.make("joint", settings: MethodSettings()), engine: ComputeEngine(threads: 2))
            var stopAfter = 2
            first.onEvent = { if case .phaseFinished = $0 { stopAfter -= 1 } }
            while first.records.count < 2 { _ = try first.runNextPhase() }
            let url = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-resume-\(aanets)/phase.ckpt")
            let (checkpoint, tensors) = try first.checkpoint(runFingerprint: "test")
            try Checkpoint.write(checkpoint, tensors: tensors, to: url)

            let (loaded, values) = try Checkpoint.read(from: url)
            let resumed = try Runner(configuration: configuration, method: MethodRegistry.make("joint", settings: MethodSettings()), engine: ComputeEngine(threads: 2))
            try resumed.restore(loaded, tensors: values, runFingerprint: "test")
            let records = try resumed.run()
            #expect(records.map(\.parameterDigest) == unbroken.map(\.parameterDigest), "aanets \(aanets)")
            #expect(records.map(\.predictionDigest) == unbroken.map(\.predictionDigest), "aanets \(aanets)")
            #expect(throws: HarnessError.self) { try resumed.restore(loaded, tensors: values, runFingerprint: "other") }
        }
    }

    @Test func corruptCheckpointsAreRejected() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-bad.ckpt")
        try Data("CILCKPT1garbage".utf8).write(to: url)
        #expect(throws: HarnessError.self) { try Checkpoint.read(from: url) }
        try Data("hello".utf8).write(to: url)
        #expect(throws: HarnessError.self) { try Checkpoint.read(from: url) }
    }
}
