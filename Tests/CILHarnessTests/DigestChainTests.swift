import CILData
import CILHarness
import CILMethods
import Foundation
import Testing

/// The digest chain every run keeps: deterministic, one link per epoch, and cheap.
@Suite(.serialized) struct DigestChainTests {
    /// The smoke protocol's shape: 16×16 images, ResNet-32, batch 32 (small steps, so the
    /// chain's share is larger here than on CIFAR's 32×32 batches of 128).
    static func runner() throws -> Runner {
        let train = try SyntheticImages.dataset(classCount: 10, perClass: 20, height: 16, width: 16, seed: 0, split: "train")
        let test = try SyntheticImages.dataset(classCount: 10, perClass: 10, height: 16, width: 16, seed: 1, split: "test")
        let plain = Preprocessing(spatial: .identity, horizontalFlip: false, brightness: nil, normalization: .measured(on: train))
        let configuration = RunConfiguration(
            train: train, test: test, classOrder: ClassOrder.numpyShuffle(seed: 1993, classCount: 10),
            schedule: try PhaseSchedule(totalClasses: 10, initialClasses: 4, increment: 3), memory: .perClass(5),
            backbone: .resnet32, trainPreprocessing: plain, testPreprocessing: plain,
            optimization: Optimization(epochs: 2, batchSize: 32, learningRate: 0.05),
            baseOptimization: Optimization(epochs: 3, batchSize: 32, learningRate: 0.1), aanets: nil, seed: 7)
        return try Runner(configuration: configuration, method: MethodRegistry.make("lucir", settings: MethodSettings()), engine: ComputeEngine(threads: 2))
    }

    @Test func chainIsDeterministicAndCheap() throws {
        let a = try Self.runner(), b = try Self.runner()
        let ra = try a.run(), rb = try b.run()
        let links = ra.flatMap { $0.chain ?? [] }
        #expect(links.count == 3 + 2 + 2)
        #expect(links.map(\.phase) == [0, 0, 0, 1, 1, 2, 2])
        #expect(links.allSatisfy { $0.stage == .training && $0.steps > 0 })
        #expect(links == rb.flatMap { $0.chain ?? [] })
        let share = Double(a.chainNanoseconds) / Double(a.stepNanoseconds)
        let steps = links.reduce(0) { $0 + $1.steps }
        print("digest chain: \(Double(a.chainNanoseconds) / Double(steps) / 1e3) µs per step, step \(Double(a.stepNanoseconds) / Double(steps) / 1e6) ms, share \(100 * share)%")
        #expect(share < 0.02)
    }
}
