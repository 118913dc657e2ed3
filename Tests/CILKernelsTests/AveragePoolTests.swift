import Foundation
import Testing
import CILKernels

private typealias S = NormTestSupport

@Suite struct AveragePoolTests {
    @Test func handComputed() throws {
        for path in [KernelPath.fast, .reference] {
            let engine = try ComputeEngine(threads: 2, path: path)
            // One image, 2x2 pixels, 2 channels: channel 0 = 1,2,3,4; channel 1 = 10,20,30,40.
            let x = Tensor(shape: [1, 2, 2, 2], scalars: [1, 10, 2, 20, 3, 30, 4, 40] as [Float], layout: .nhwc)
            let y = engine.globalAveragePool(x)
            #expect(y.shape == [1, 2] && y.layout == .plain && y.floats == [2.5, 25])
            let dx = engine.globalAveragePoolBackward(Tensor(shape: [1, 2], scalars: [4, 8] as [Float]), inputShape: [1, 2, 2, 2])
            #expect(dx.layout == .nhwc && dx.floats == [1, 2, 1, 2, 1, 2, 1, 2])
        }
    }

    @Test func fastMatchesFloat64Reference() throws {
        let fast = try ComputeEngine(threads: 2, path: .fast)
        let reference = try ComputeEngine(threads: 2, path: .reference)
        var worst = (forward: 0.0, backward: 0.0)
        for (k, shape) in [[128, 8, 8, 64], [3, 5, 7, 20], [2, 1, 1, 3], [5, 9, 9, 16], [64, 32, 32, 16]].enumerated() {
            let x32 = S.random(shape, seed: UInt64(k), offset: 1, dtype: .float32)
            let dy32 = S.random([shape[0], shape[3]], seed: UInt64(k) + 9, dtype: .float32)
            let ef = S.relativeError(fast.globalAveragePool(x32), reference.globalAveragePool(x32.converted(to: .float64)))
            let eb = S.relativeError(fast.globalAveragePoolBackward(dy32, inputShape: shape),
                                     reference.globalAveragePoolBackward(dy32.converted(to: .float64), inputShape: shape))
            #expect(ef < 1e-6 && eb < 1e-6, "\(shape): \(ef) \(eb)")
            worst = (max(worst.forward, ef), max(worst.backward, eb))
        }
        print("global average pool fast vs float64, worst max|err|/max|ref|: forward \(worst.forward), backward \(worst.backward)")
    }

    @Test func finiteDifferenceGradient() throws {
        let engine = try ComputeEngine(threads: 2, path: .reference)
        let shape = [3, 3, 2, 5]
        let x = S.random(shape, seed: 11), w = S.random([3, 5], seed: 12)
        let e = S.gradientError(x, analytic: engine.globalAveragePoolBackward(w, inputShape: shape)) { S.sumProduct(w, engine.globalAveragePool($0)) }
        print("global average pool finite differences: \(e)")
        #expect(e < 1e-6)
    }

    @Test func fastPathIsDeterministic() throws {
        let x = S.random([32, 8, 8, 64], seed: 3, dtype: .float32)
        let d1 = Digest.of(try ComputeEngine(threads: 2).globalAveragePool(x))
        #expect(Digest.of(try ComputeEngine(threads: 2).globalAveragePool(x)) == d1)
        #expect(Digest.of(try ComputeEngine(threads: 1).globalAveragePool(x)) == d1)
    }
}
