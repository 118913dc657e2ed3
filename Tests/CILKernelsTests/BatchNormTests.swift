import Foundation
import Testing
import CILKernels

/// Helpers shared by the batch-norm, elementwise and pooling tests (prefixed to stay clear of
/// other suites in this target).
enum NormTestSupport {
    /// NHWC for rank 4, plain otherwise; values offset + spread * N(0,1).
    static func random(_ shape: [Int], seed: UInt64, offset: Double = 0, spread: Double = 1, dtype: DType = .float64) -> Tensor {
        var stream = RandomStream(seed: seed, purpose: "norm tests \(shape)")
        let n = shape.reduce(1, *)
        let values = (0..<n).map { _ in offset + spread * stream.nextNormal() }
        let t = Tensor(shape: shape, scalars: values, layout: shape.count == 4 ? .nhwc : .plain)
        return t.converted(to: dtype)
    }

    /// max|a - b| / max|b|, with b the reference (exact zero reference gives the absolute error).
    static func relativeError(_ a: Tensor, _ b: Tensor) -> Double {
        let x = a.doubles, y = b.doubles
        precondition(x.count == y.count)
        var num = 0.0, den = 0.0
        for i in x.indices {
            num = max(num, abs(x[i] - y[i]))
            den = max(den, abs(y[i]))
        }
        return den > 0 ? num / den : num
    }

    static func sumProduct(_ w: Tensor, _ y: Tensor) -> Double {
        zip(w.doubles, y.doubles).reduce(0) { $0 + $1.0 * $1.1 }
    }

    static func perturbed(_ t: Tensor, at i: Int, by h: Double) -> Tensor {
        var v = t.doubles
        v[i] += h
        return Tensor(shape: t.shape, scalars: v, layout: t.layout)
    }

    /// Worst normwise relative error between an analytic gradient and central differences of
    /// `loss` (a function of the tensor) at every element.
    static func gradientError(_ t: Tensor, analytic: Tensor, h: Double = 1e-6, loss: (Tensor) throws -> Double) rethrows -> Double {
        var numeric = [Double](repeating: 0, count: t.count)
        for i in 0..<t.count {
            numeric[i] = (try loss(perturbed(t, at: i, by: h)) - loss(perturbed(t, at: i, by: -h))) / (2 * h)
        }
        return relativeError(Tensor(shape: t.shape, scalars: numeric, layout: t.layout), analytic)
    }
}

private typealias S = NormTestSupport

/// Shapes with odd sizes, C not a multiple of 16, several chunks with a ragged last one, and 2-d.
private let comparisonShapes: [[Int]] = [
    [2, 4, 4, 16], [3, 5, 7, 20], [4, 3, 3, 33], [5, 17, 13, 16], [16, 8, 8, 64], [2, 9, 9, 7], [1, 1, 1, 5], [37, 10], [300, 48], [32, 16, 16, 16],
]

@Suite struct BatchNormTests {
    @Test func handComputedTinyInput() throws {
        // Channel 0: x = 1,2,3,4 (mean 2.5, biased variance 1.25); channel 1: 10,20,30,40.
        let x = Tensor(shape: [4, 2], scalars: [1, 10, 2, 20, 3, 30, 4, 40] as [Double])
        let gamma = Tensor(shape: [2], scalars: [2, 1] as [Double]), beta = Tensor(shape: [2], scalars: [0.5, 0] as [Double])
        let xhat0 = [-1.5, -0.5, 0.5, 1.5].map { $0 / (1.25 + 1e-5).squareRoot() }   // ±1.3416354, ±0.4472118
        let xhat1 = [-15.0, -5, 5, 15].map { $0 / (125 + 1e-5).squareRoot() }
        #expect(abs(xhat0[0] + 1.3416354) < 1e-7)
        for path in [KernelPath.fast, .reference] {
            for dtype in [DType.float32, .float64] {
                let engine = try ComputeEngine(threads: 2, path: path)
                let (y, stats) = try engine.batchNormTraining(x.converted(to: dtype), gamma: gamma.converted(to: dtype), beta: beta.converted(to: dtype), epsilon: 1e-5)
                let tolerance = dtype == .float32 ? 1e-6 : 1e-14
                let yv = y.doubles
                for r in 0..<4 {
                    #expect(abs(yv[2 * r] - (2 * xhat0[r] + 0.5)) < tolerance * 4, "\(path) \(dtype) row \(r)")
                    #expect(abs(yv[2 * r + 1] - xhat1[r]) < tolerance * 2, "\(path) \(dtype) row \(r)")
                }
                #expect(abs(stats.mean.doubles[0] - 2.5) < tolerance && abs(stats.mean.doubles[1] - 25) < tolerance * 25)
                #expect(abs(stats.variance.doubles[0] - 1.25) < tolerance && abs(stats.variance.doubles[1] - 125) < tolerance * 125)
                #expect(abs(stats.inverseStd.doubles[0] - 1 / (1.25 + 1e-5).squareRoot()) < tolerance)
                let relu = try engine.batchNormReLUTraining(x.converted(to: dtype), gamma: gamma.converted(to: dtype), beta: beta.converted(to: dtype), epsilon: 1e-5).output.doubles
                #expect(relu[0] == 0 && abs(relu[6] - (2 * xhat0[3] + 0.5)) < tolerance * 4)
            }
        }
    }

    @Test func fastMatchesFloat64Reference() throws {
        let fast = try ComputeEngine(threads: 2, path: .fast)
        let reference = try ComputeEngine(threads: 2, path: .reference)
        var worst: [String: Double] = [:]
        var shape: [Int] = [], offset = 0.0
        func check(_ name: String, _ a: Tensor, _ b: Tensor, bound: Double = 2e-6) {
            #expect(a.dtype == .float32 && b.dtype == .float64 && a.shape == b.shape, "\(name)")
            let e = S.relativeError(a, b)
            worst[name] = max(worst[name] ?? 0, e)
            #expect(e < bound, "\(name): \(e) at \(shape) offset \(offset)")
        }
        for (k, s) in comparisonShapes.enumerated() {
            shape = s
            // Offsets make the mean dominate the spread (a cancellation test for the variance).
            for o in [0.0, 3.0, 200.0] {
                offset = o
                let seed = UInt64(10 * k) + UInt64(offset)
                let c = shape.last!
                let x32 = S.random(shape, seed: seed, offset: offset, spread: 1.5, dtype: .float32)
                let dy32 = S.random(shape, seed: seed + 1, dtype: .float32)
                let gamma32 = S.random([c], seed: seed + 2, offset: 1, spread: 0.3, dtype: .float32)
                let beta32 = S.random([c], seed: seed + 3, spread: 0.3, dtype: .float32)
                let rm32 = S.random([c], seed: seed + 4, offset: offset, dtype: .float32)
                let rv32 = Tensor(shape: [c], scalars: S.random([c], seed: seed + 5).doubles.map { Float(0.5 + $0 * $0) })
                let (x, dy, gamma, beta, rm, rv) = (x32.converted(to: .float64), dy32.converted(to: .float64), gamma32.converted(to: .float64),
                                                    beta32.converted(to: .float64), rm32.converted(to: .float64), rv32.converted(to: .float64))
                let (yf, sf) = try fast.batchNormTraining(x32, gamma: gamma32, beta: beta32, epsilon: 1e-5)
                let (yr, sr) = try reference.batchNormTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
                // A single row has zero variance: output beta, and xhat=0 makes y insensitive.
                check("BN fwd y", yf, yr, bound: offset > 100 ? 4e-5 : 2e-6)
                check("BN fwd mean", sf.mean, sr.mean)
                check("BN fwd variance", sf.variance, sr.variance, bound: offset > 100 ? 2e-5 : 2e-6)
                check("BN fwd inverseStd", sf.inverseStd, sr.inverseStd, bound: offset > 100 ? 2e-5 : 2e-6)
                let bf = try fast.batchNormTrainingBackward(dy32, input: x32, gamma: gamma32, statistics: sf)
                let br = try reference.batchNormTrainingBackward(dy, input: x, gamma: gamma, statistics: sr)
                check("BN bwd dx", bf.gradInput, br.gradInput, bound: offset > 100 ? 1e-4 : 1e-5)
                check("BN bwd dgamma", bf.gradGamma, br.gradGamma, bound: offset > 100 ? 1e-4 : 1e-5)
                check("BN bwd dbeta", bf.gradBeta, br.gradBeta, bound: 1e-5)

                let (zf, tf) = try fast.batchNormReLUTraining(x32, gamma: gamma32, beta: beta32, epsilon: 1e-5)
                let (zr, tr) = try reference.batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
                check("BN+ReLU fwd y", zf, zr, bound: offset > 100 ? 4e-5 : 2e-6)
                // Both backward passes see the same ReLU mask (the fast output's).
                let rf = try fast.batchNormReLUTrainingBackward(dy32, input: x32, output: zf, gamma: gamma32, statistics: tf)
                let rr = try reference.batchNormReLUTrainingBackward(dy, input: x, output: zf.converted(to: .float64), gamma: gamma, statistics: tr)
                check("BN+ReLU bwd dx", rf.gradInput, rr.gradInput, bound: offset > 100 ? 1e-4 : 1e-5)
                check("BN+ReLU bwd dgamma", rf.gradGamma, rr.gradGamma, bound: offset > 100 ? 1e-4 : 1e-5)
                check("BN+ReLU bwd dbeta", rf.gradBeta, rr.gradBeta, bound: 1e-5)

                let inf = try fast.batchNormInference(x32, gamma: gamma32, beta: beta32, runningMean: rm32, runningVariance: rv32, epsilon: 1e-5)
                let inr = try reference.batchNormInference(x, gamma: gamma, beta: beta, runningMean: rm, runningVariance: rv, epsilon: 1e-5)
                check("BN inference y", inf, inr)
                let ibf = try fast.batchNormInferenceBackward(dy32, gamma: gamma32, runningVariance: rv32, epsilon: 1e-5)
                let ibr = try reference.batchNormInferenceBackward(dy, gamma: gamma, runningVariance: rv, epsilon: 1e-5)
                check("BN inference dx", ibf, ibr)
            }
        }
        for (name, e) in worst.sorted(by: { $0.key < $1.key }) { print("BN fast vs float64, worst max|err|/max|ref| \(name): \(e)") }
    }

    @Test func float32ReferencePathMatchesFloat64() throws {
        let engine = try ComputeEngine(threads: 2, path: .reference)
        let x = S.random([3, 5, 7, 20], seed: 7, offset: 2)
        let gamma = S.random([20], seed: 8, offset: 1), beta = S.random([20], seed: 9)
        let (y32, _) = try engine.batchNormReLUTraining(x.converted(to: .float32), gamma: gamma.converted(to: .float32), beta: beta.converted(to: .float32), epsilon: 1e-5)
        let (y64, _) = try engine.batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
        #expect(S.relativeError(y32, y64) < 1e-6)
    }

    @Test func finiteDifferenceGradients() throws {
        let engine = try ComputeEngine(threads: 2, path: .reference)
        var worst = 0.0
        for (k, shape) in [[2, 3, 3, 4], [7, 3]].enumerated() {
            let seed = UInt64(100 + 10 * k), c = shape.last!
            let x = S.random(shape, seed: seed, offset: 0.5), w = S.random(shape, seed: seed + 1)
            let gamma = S.random([c], seed: seed + 2, offset: 1, spread: 0.5), beta = S.random([c], seed: seed + 3, spread: 0.5)
            let rm = S.random([c], seed: seed + 4), rv = Tensor(shape: [c], scalars: S.random([c], seed: seed + 5).doubles.map { 0.5 + $0 * $0 })

            for relu in [false, true] {
                func forward(_ x: Tensor, _ g: Tensor, _ b: Tensor) throws -> (output: Tensor, statistics: BatchNormStatistics) {
                    relu ? try engine.batchNormReLUTraining(x, gamma: g, beta: b, epsilon: 1e-5) : try engine.batchNormTraining(x, gamma: g, beta: b, epsilon: 1e-5)
                }
                let (y, stats) = try forward(x, gamma, beta)
                if relu { #expect(y.doubles.allSatisfy { $0 == 0 || abs($0) > 1e-4 }, "a ReLU input too close to the kink") }
                let grads = relu
                    ? try engine.batchNormReLUTrainingBackward(w, input: x, output: y, gamma: gamma, statistics: stats)
                    : try engine.batchNormTrainingBackward(w, input: x, gamma: gamma, statistics: stats)
                let ex = try S.gradientError(x, analytic: grads.gradInput) { try S.sumProduct(w, forward($0, gamma, beta).output) }
                let eg = try S.gradientError(gamma, analytic: grads.gradGamma) { try S.sumProduct(w, forward(x, $0, beta).output) }
                let eb = try S.gradientError(beta, analytic: grads.gradBeta) { try S.sumProduct(w, forward(x, gamma, $0).output) }
                print("BN\(relu ? "+ReLU" : "") training \(shape) finite differences: dx \(ex), dgamma \(eg), dbeta \(eb)")
                #expect(ex < 1e-6 && eg < 1e-6 && eb < 1e-6)
                worst = max(worst, ex, eg, eb)
            }

            let dx = try engine.batchNormInferenceBackward(w, gamma: gamma, runningVariance: rv, epsilon: 1e-5)
            let ei = try S.gradientError(x, analytic: dx) {
                try S.sumProduct(w, engine.batchNormInference($0, gamma: gamma, beta: beta, runningMean: rm, runningVariance: rv, epsilon: 1e-5))
            }
            print("BN inference \(shape) finite differences: dx \(ei)")
            #expect(ei < 1e-6)
            worst = max(worst, ei)
        }
        print("BN finite differences, worst relative error: \(worst)")
    }

    @Test func fastPathIsDeterministicAndThreadCountIndependent() throws {
        let x = S.random([6, 19, 11, 32], seed: 42, offset: 1, dtype: .float32)
        let dy = S.random([6, 19, 11, 32], seed: 43, dtype: .float32)
        let gamma = S.random([32], seed: 44, offset: 1, dtype: .float32), beta = S.random([32], seed: 45, dtype: .float32)
        func digests(threads: Int) throws -> [UInt64] {
            let engine = try ComputeEngine(threads: threads)
            let (y, s) = try engine.batchNormReLUTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
            let b = try engine.batchNormReLUTrainingBackward(dy, input: x, output: y, gamma: gamma, statistics: s)
            let (y2, s2) = try engine.batchNormTraining(x, gamma: gamma, beta: beta, epsilon: 1e-5)
            let b2 = try engine.batchNormTrainingBackward(dy, input: x, gamma: gamma, statistics: s2)
            return [y, s.mean, s.variance, s.inverseStd, b.gradInput, b.gradGamma, b.gradBeta, y2, b2.gradInput, b2.gradGamma].map(Digest.of)
        }
        let first = try digests(threads: 2)
        #expect(try digests(threads: 2) == first)
        #expect(try digests(threads: 1) == first)
    }

    @Test func invalidArgumentsThrow() throws {
        let engine = try ComputeEngine(threads: 2)
        let x = Tensor(zeros: [2, 3, 3, 4], layout: .nhwc)
        #expect(throws: KernelError.self) { try engine.batchNormTraining(x, gamma: Tensor(zeros: [3]), beta: Tensor(zeros: [4]), epsilon: 1e-5) }
        #expect(throws: KernelError.self) { try engine.batchNormTraining(x.reshaped([2, 3, 12]), gamma: Tensor(zeros: [12]), beta: Tensor(zeros: [12]), epsilon: 1e-5) }
        #expect(throws: KernelError.self) { try engine.batchNormTraining(x, gamma: Tensor(zeros: [4], dtype: .float64), beta: Tensor(zeros: [4]), epsilon: 1e-5) }
        #expect(throws: KernelError.self) { try engine.batchNormTraining(x, gamma: Tensor(zeros: [4]), beta: Tensor(zeros: [4]), epsilon: -1) }
        let (y, s) = try engine.batchNormTraining(x, gamma: Tensor(zeros: [4]), beta: Tensor(zeros: [4]), epsilon: 1e-5)
        #expect(throws: KernelError.self) { try engine.batchNormTrainingBackward(Tensor(zeros: [2, 3, 3, 5], layout: .nhwc), input: x, gamma: Tensor(zeros: [4]), statistics: s) }
        #expect(throws: KernelError.self) { try engine.batchNormReLUTrainingBackward(y, input: x, output: y.reshaped([18, 4]), gamma: Tensor(zeros: [4]), statistics: s) }
    }

    @Test func recordsOneKernelPerCall() throws {
        final class Counter: KernelObserver {
            var kinds: [String] = []
            func kernelDidRun(_ record: KernelRecord) { kinds.append(record.kind) }
        }
        let engine = try ComputeEngine(threads: 2)
        let counter = Counter()
        engine.observer = counter
        let x = S.random([2, 3, 3, 16], seed: 1, dtype: .float32), g = Tensor(filled: 1, shape: [16]), b = Tensor(zeros: [16])
        let (y, s) = try engine.batchNormReLUTraining(x, gamma: g, beta: b, epsilon: 1e-5)
        _ = try engine.batchNormReLUTrainingBackward(x, input: x, output: y, gamma: g, statistics: s)
        _ = try engine.batchNormInference(x, gamma: g, beta: b, runningMean: b, runningVariance: g, epsilon: 1e-5)
        #expect(counter.kinds == ["batchNormReLUTraining", "batchNormReLUTrainingBackward", "batchNormInference"])
    }
}
