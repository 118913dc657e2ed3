import CILKernels
import Foundation
import Testing

/// Values in [-1, 1) that are exact in float32, so the float32 and float64 tensors built from
/// them hold the same numbers and any difference comes from the kernels.
private func randomValues(_ count: Int, _ purpose: String, _ index: Int) -> [Double] {
    var r = RandomStream(seed: 0xC0117, purpose: purpose, index)
    return (0..<count).map { _ in Double(Float(r.nextDouble() * 2 - 1)) }
}

/// The same random values as a float32 and a float64 tensor.
private func randomPair(_ shape: [Int], _ layout: Layout, _ purpose: String, _ index: Int) -> (f32: Tensor, f64: Tensor) {
    let values = randomValues(shape.reduce(1, *), purpose, index)
    return (Tensor(shape: shape, scalars: values.map(Float.init), layout: layout), Tensor(shape: shape, scalars: values, layout: layout))
}

/// max|a - ref| / max|ref|.
private func relativeError(_ a: Tensor, _ ref: Tensor) -> Double {
    #expect(a.shape == ref.shape)
    let x = a.doubles, y = ref.doubles
    var err = 0.0, scale = 0.0
    for i in y.indices {
        err = max(err, abs(x[i] - y[i]))
        scale = max(scale, abs(y[i]))
    }
    return scale == 0 ? err : err / scale
}

private func dot(_ a: Tensor, _ b: Tensor) -> (value: Double, magnitude: Double) {
    let x = a.doubles, y = b.doubles
    var s = 0.0, m = 0.0
    for i in x.indices {
        s += x[i] * y[i]
        m += abs(x[i] * y[i])
    }
    return (s, m)
}

/// (N, H, W, Cin, Cout, K, stride, padding)
private typealias Case = (n: Int, h: Int, w: Int, ci: Int, co: Int, k: Int, s: Int, p: Int)

private let fixedCases: [Case] = [
    (2, 8, 8, 16, 16, 3, 1, 1),     // ResNet 3x3 body conv
    (2, 9, 7, 16, 32, 3, 2, 1),     // 3x3 stride 2, odd spatial
    (1, 7, 9, 5, 3, 3, 1, 1),       // batch 1, channels not multiples of 16
    (3, 7, 9, 3, 5, 3, 2, 1),
    (3, 8, 8, 16, 32, 1, 2, 0),     // 1x1 stride-2 shortcut
    (2, 9, 9, 5, 7, 1, 2, 0),       // 1x1 stride 2 on odd size
    (2, 15, 13, 3, 16, 7, 2, 3),    // 7x7 stride-2 stem
    (1, 8, 8, 3, 8, 7, 2, 3),
    (4, 16, 16, 3, 16, 3, 1, 1),    // CIFAR stem
    (2, 8, 8, 64, 64, 3, 1, 1),
    (2, 9, 9, 32, 64, 3, 2, 1),
    (16, 16, 16, 16, 16, 3, 1, 1),  // long backward-weights reductions (4096 terms per weight)
    (8, 16, 16, 32, 64, 1, 2, 0),
]

/// Seeded random geometries on top of the fixed ones.
private func randomCases(_ count: Int) -> [Case] {
    var r = RandomStream(seed: 0xC0117, purpose: "conv.test.shapes")
    return (0..<count).map { _ in
        let k = [1, 3, 5][r.nextInt(below: 3)]
        return (1 + r.nextInt(below: 3), k + r.nextInt(below: 9), k + r.nextInt(below: 9), 1 + r.nextInt(below: 20),
                1 + r.nextInt(below: 20), k, 1 + r.nextInt(below: 2), r.nextInt(below: k / 2 + 1))
    }
}

@Suite struct ConvolutionTests {
    @Test func fastMatchesFloat64Reference() throws {
        let engine = try ComputeEngine(threads: 2)
        var worst = (fwd: 0.0, bwdData: 0.0, bwdWeights: 0.0)
        var worstCase = (fwd: "", bwdData: "", bwdWeights: "")
        for (index, c) in (fixedCases + randomCases(8)).enumerated() {
            let x = randomPair([c.n, c.h, c.w, c.ci], .nhwc, "conv.test.x", index)
            let w = randomPair([c.co, c.ci, c.k, c.k], .oihw, "conv.test.w", index)
            let g = Conv2DGeometry(input: x.f32.shape, weight: w.f32.shape, stride: c.s, padding: c.p)
            let dy = randomPair(g.outputShape, .nhwc, "conv.test.dy", index)

            let yFast = try engine.conv2dForward(x.f32, weight: w.f32, stride: c.s, padding: c.p)
            let yRef = try engine.conv2dForward(x.f64, weight: w.f64, stride: c.s, padding: c.p)
            #expect(yFast.dtype == .float32 && yRef.dtype == .float64 && yFast.layout == .nhwc)
            let dxFast = try engine.conv2dBackwardData(dy.f32, weight: w.f32, geometry: g)
            let dxRef = try engine.conv2dBackwardData(dy.f64, weight: w.f64, geometry: g)
            let dwFast = try engine.conv2dBackwardWeights(dy.f32, input: x.f32, geometry: g)
            let dwRef = try engine.conv2dBackwardWeights(dy.f64, input: x.f64, geometry: g)
            #expect(dxFast.shape == x.f32.shape && dxFast.layout == .nhwc)
            #expect(dwFast.shape == w.f32.shape && dwFast.layout == .oihw)

            let errors = (relativeError(yFast, yRef), relativeError(dxFast, dxRef), relativeError(dwFast, dwRef))
            #expect(errors.0 < 1e-5, "forward \(g): \(errors.0)")
            #expect(errors.1 < 1e-5, "backward-data \(g): \(errors.1)")
            #expect(errors.2 < 5e-5, "backward-weights \(g): \(errors.2)")
            if errors.0 > worst.fwd { worst.fwd = errors.0; worstCase.fwd = "\(g)" }
            if errors.1 > worst.bwdData { worst.bwdData = errors.1; worstCase.bwdData = "\(g)" }
            if errors.2 > worst.bwdWeights { worst.bwdWeights = errors.2; worstCase.bwdWeights = "\(g)" }
        }
        print("conv fast vs float64 reference, worst max|err|/max|ref|: forward \(worst.fwd) (\(worstCase.fwd)), "
              + "backward-data \(worst.bwdData) (\(worstCase.bwdData)), backward-weights \(worst.bwdWeights) (\(worstCase.bwdWeights))")
    }

    /// The float32 reference path computes the same thing as the float64 one (it is the same
    /// generic code) and agrees with the fast path.
    @Test func float32ReferencePathAgrees() throws {
        let fast = try ComputeEngine(threads: 2)
        let reference = try ComputeEngine(threads: 2, path: .reference)
        let c = fixedCases[1]
        let x = randomPair([c.n, c.h, c.w, c.ci], .nhwc, "conv.test.x", 100)
        let w = randomPair([c.co, c.ci, c.k, c.k], .oihw, "conv.test.w", 100)
        let g = Conv2DGeometry(input: x.f32.shape, weight: w.f32.shape, stride: c.s, padding: c.p)
        let dy = randomPair(g.outputShape, .nhwc, "conv.test.dy", 100)
        let pairs = [
            (try reference.conv2dForward(x.f32, weight: w.f32, stride: c.s, padding: c.p),
             try fast.conv2dForward(x.f32, weight: w.f32, stride: c.s, padding: c.p),
             try fast.conv2dForward(x.f64, weight: w.f64, stride: c.s, padding: c.p)),
            (try reference.conv2dBackwardData(dy.f32, weight: w.f32, geometry: g),
             try fast.conv2dBackwardData(dy.f32, weight: w.f32, geometry: g),
             try fast.conv2dBackwardData(dy.f64, weight: w.f64, geometry: g)),
            (try reference.conv2dBackwardWeights(dy.f32, input: x.f32, geometry: g),
             try fast.conv2dBackwardWeights(dy.f32, input: x.f32, geometry: g),
             try fast.conv2dBackwardWeights(dy.f64, input: x.f64, geometry: g)),
        ]
        for (ref32, fast32, ref64) in pairs {
            #expect(ref32.dtype == .float32)
            #expect(relativeError(ref32, ref64) < 1e-6)
            #expect(relativeError(fast32, ref64) < 5e-5)
        }
    }

    /// <dY, conv(X, W)> = <bwdData(dY, W), X> = <bwdWeights(dY, X), W>: the backward kernels
    /// are the exact adjoints of the forward one (the gradient check for a linear op).
    @Test func referenceBackwardIsAdjointOfForward() throws {
        let engine = try ComputeEngine(threads: 2)
        var worst = 0.0
        for (index, c) in (fixedCases + randomCases(4)).enumerated() {
            let x = randomPair([c.n, c.h, c.w, c.ci], .nhwc, "conv.adjoint.x", index).f64
            let w = randomPair([c.co, c.ci, c.k, c.k], .oihw, "conv.adjoint.w", index).f64
            let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: c.s, padding: c.p)
            let dy = randomPair(g.outputShape, .nhwc, "conv.adjoint.dy", index).f64
            let y = try engine.conv2dForward(x, weight: w, stride: c.s, padding: c.p)
            let dx = try engine.conv2dBackwardData(dy, weight: w, geometry: g)
            let dw = try engine.conv2dBackwardWeights(dy, input: x, geometry: g)
            let a = dot(dy, y), b = dot(dx, x), d = dot(dw, w)
            let scale = max(a.magnitude, 1e-300)
            let err = max(abs(a.value - b.value), abs(a.value - d.value)) / scale
            #expect(err < 1e-10, "\(g): <dY,Y>=\(a.value) <dX,X>=\(b.value) <dW,W>=\(d.value)")
            worst = max(worst, err)
        }
        print("conv float64 adjoint check, worst relative mismatch: \(worst)")
    }

    /// 4x4 ones, 3x3 ones, padding 1: each output counts the taps inside the input.
    @Test(arguments: [KernelPath.fast, .reference], [DType.float32, .float64])
    func handComputedOnes(path: KernelPath, dtype: DType) throws {
        let engine = try ComputeEngine(threads: 2, path: path)
        let x = Tensor(filled: 1, shape: [1, 4, 4, 1], dtype: dtype, layout: .nhwc)
        let w = Tensor(filled: 1, shape: [1, 1, 3, 3], dtype: dtype, layout: .oihw)
        let y = try engine.conv2dForward(x, weight: w, stride: 1, padding: 1)
        let counts: [Double] = [4, 6, 6, 4, 6, 9, 9, 6, 6, 9, 9, 6, 4, 6, 6, 4]
        #expect(y.shape == [1, 4, 4, 1])
        #expect(y.doubles == counts)
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1)
        // Symmetric kernel and all-ones gradient: backward-data counts the same taps.
        #expect(try engine.conv2dBackwardData(x, weight: w, geometry: g).doubles == counts)
        // Each weight tap sees the output positions whose tap lands inside the input.
        #expect(try engine.conv2dBackwardWeights(x, input: x, geometry: g).doubles == [9, 12, 9, 12, 16, 12, 9, 12, 9])
    }

    /// Stride 2 with an asymmetric kernel and two channels, worked by hand.
    @Test(arguments: [KernelPath.fast, .reference])
    func handComputedStrided(path: KernelPath) throws {
        let engine = try ComputeEngine(threads: 2, path: path)
        // Input 1x3x3x2: channel 0 = 1...9 row-major, channel 1 = 10 everywhere.
        let x = Tensor(shape: [1, 3, 3, 2], scalars: (1...9).flatMap { [Float($0), 10] }, layout: .nhwc)
        // One output channel, 2x2 kernel: +1 at top-left of channel 0, -1 at bottom-right of
        // channel 0, 0.5 at top-right of channel 1.
        let w = Tensor(shape: [1, 2, 2, 2], scalars: [1, 0, 0, -1, 0, 0.5, 0, 0] as [Float], layout: .oihw)
        let y = try engine.conv2dForward(x, weight: w, stride: 2, padding: 1)
        // OH = OW = (3 + 2 - 2)/2 + 1 = 2; window origins at (-1,-1), (-1,1), (1,-1), (1,1).
        // (0,0): only bottom-right tap (0,0) inside: -1*x[0,0] = -1.
        // (0,1): origin (-1,1): bottom-left (0,1) has zero weights, bottom-right (0,2) ch0 -> -3.
        // (1,0): origin (1,-1): top-right (1,0) ch1 -> 0.5*10 = 5; bottom-right (2,0) ch0 -> -7. Sum -2.
        // (1,1): origin (1,1): tl (1,1) ch0 5, tr (1,2) ch1 5, br (2,2) ch0 -9 -> 1.
        #expect(y.doubles == [-1, -3, -2, 1])
    }

    @Test func fastPathIsDeterministic() throws {
        let engine = try ComputeEngine(threads: 2)
        let x = randomPair([4, 16, 16, 32], .nhwc, "conv.det.x", 0).f32
        let w = randomPair([32, 32, 3, 3], .oihw, "conv.det.w", 0).f32
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1)
        let dy = randomPair(g.outputShape, .nhwc, "conv.det.dy", 0).f32
        func digests(_ e: ComputeEngine) throws -> [UInt64] {
            [Digest.of(try e.conv2dForward(x, weight: w, stride: 1, padding: 1)),
             Digest.of(try e.conv2dBackwardData(dy, weight: w, geometry: g)),
             Digest.of(try e.conv2dBackwardWeights(dy, input: x, geometry: g))]
        }
        let first = try digests(engine)
        #expect(try digests(engine) == first)
        #expect(try digests(try ComputeEngine(threads: 2)) == first)
        // Inputs are read, never written.
        #expect(Digest.of(x) == Digest.of(randomPair([4, 16, 16, 32], .nhwc, "conv.det.x", 0).f32))
    }

    @Test func invalidArgumentsThrow() throws {
        let engine = try ComputeEngine(threads: 2)
        let x = Tensor(zeros: [1, 4, 4, 3], layout: .nhwc)
        let w = Tensor(zeros: [8, 3, 3, 3], layout: .oihw)
        #expect(throws: KernelError.self) { try engine.conv2dForward(x, weight: Tensor(zeros: [8, 2, 3, 3], layout: .oihw), stride: 1, padding: 1) }
        #expect(throws: KernelError.self) { try engine.conv2dForward(x, weight: Tensor(zeros: [8, 3, 3, 3], dtype: .float64, layout: .oihw), stride: 1, padding: 1) }
        #expect(throws: KernelError.self) { try engine.conv2dForward(x.reshaped([1, 4, 4, 3]), weight: w, stride: 1, padding: 1) }
        #expect(throws: KernelError.self) { try engine.conv2dForward(x, weight: w, stride: 0, padding: 1) }
        var g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1)
        #expect(throws: KernelError.self) { try engine.conv2dBackwardData(Tensor(zeros: [1, 3, 3, 8], layout: .nhwc), weight: w, geometry: g) }
        g.stride = 0
        #expect(throws: KernelError.self) { try engine.conv2dBackwardWeights(Tensor(zeros: [1, 4, 4, 8], layout: .nhwc), input: x, geometry: g) }
    }

    @Test func eachCallIsRecordedOnce() throws {
        final class Recorder: KernelObserver {
            var records: [KernelRecord] = []
            func kernelDidRun(_ record: KernelRecord) { records.append(record) }
        }
        for path in [KernelPath.fast, .reference] {
            let engine = try ComputeEngine(threads: 2, path: path)
            let recorder = Recorder()
            engine.observer = recorder
            let x = randomPair([2, 6, 6, 4], .nhwc, "conv.rec.x", 0).f32
            let w = randomPair([8, 4, 3, 3], .oihw, "conv.rec.w", 0).f32
            let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 2, padding: 1)
            let y = try engine.conv2dForward(x, weight: w, stride: 2, padding: 1)
            let dx = try engine.conv2dBackwardData(y, weight: w, geometry: g)
            let dw = try engine.conv2dBackwardWeights(y, input: x, geometry: g)
            #expect(recorder.records.map(\.kind) == ["conv2d.forward", "conv2d.backward_data", "conv2d.backward_weights"])
            #expect(recorder.records.map(\.outputDigest) == [Digest.of(y), Digest.of(dx), Digest.of(dw)])
            #expect(recorder.records[0].shapes == [x.shape, w.shape, y.shape])
        }
    }
}

/// The hand-written 3x3 kernels (DirectConvolution.swift) against oneDNN and the float64
/// reference on the ResNet geometries they take, and their thread-count invariance.
@Suite struct DirectConvolutionTests {
    private static let geometries: [Case] = [
        (3, 8, 8, 16, 16, 3, 1, 1), (2, 7, 5, 32, 16, 3, 1, 1), (2, 4, 4, 64, 64, 3, 1, 1),
        (17, 5, 9, 16, 48, 3, 1, 1),  // batch not divisible by the 16 gradient chunks; pixel count not by 6
        (1, 1, 1, 16, 16, 3, 1, 1),
    ]

    @Test func matchesOneDNNAndFloat64() throws {
        try #require(Conv3x3Kernel.cpuSupportsDirect, "CPU without AVX2/FMA: the direct kernels never run here")
        let direct = try ComputeEngine(threads: 2, conv3x3: .direct)
        let onednn = try ComputeEngine(threads: 2, conv3x3: .onednn)
        #expect(direct.environment["conv3x3_kernel"] == "cilbench-avx2-fma")
        #expect(onednn.environment["conv3x3_kernel"] == "onednn")
        for (i, c) in Self.geometries.enumerated() {
            let x = randomPair([c.n, c.h, c.w, c.ci], .nhwc, "direct.x", i)
            let w = randomPair([c.co, c.ci, 3, 3], .oihw, "direct.w", i)
            let g = Conv2DGeometry(input: x.f32.shape, weight: w.f32.shape, stride: 1, padding: 1)
            let dy = randomPair(g.outputShape, .nhwc, "direct.dy", i)
            #expect(direct.runsDirect3x3(g) && !onednn.runsDirect3x3(g))
            for engine in [direct, onednn] {
                let y = try engine.conv2dForward(x.f32, weight: w.f32, stride: 1, padding: 1)
                let dx = try engine.conv2dBackwardData(dy.f32, weight: w.f32, geometry: g)
                let dw = try engine.conv2dBackwardWeights(dy.f32, input: x.f32, geometry: g)
                expectClose(y, try engine.conv2dForward(x.f64, weight: w.f64, stride: 1, padding: 1), 1e-5, "fwd \(c)")
                expectClose(dx, try engine.conv2dBackwardData(dy.f64, weight: w.f64, geometry: g), 1e-5, "bwd-data \(c)")
                expectClose(dw, try engine.conv2dBackwardWeights(dy.f64, input: x.f64, geometry: g), 1e-5, "bwd-weights \(c)")
            }
        }
    }

    /// Same bits at 1 and 2 threads, and run to run (the chunking depends on the batch only).
    @Test func sameBitsAtEveryThreadCount() throws {
        try #require(Conv3x3Kernel.cpuSupportsDirect)
        let x = randomPair([19, 8, 8, 32], .nhwc, "direct.det.x", 0).f32
        let w = randomPair([16, 32, 3, 3], .oihw, "direct.det.w", 0).f32
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1)
        let dy = randomPair(g.outputShape, .nhwc, "direct.det.dy", 0).f32
        let b = randomPair([16], .plain, "direct.det.b", 0).f32
        func digests(_ e: ComputeEngine) throws -> [UInt64] {
            [Digest.of(try e.conv2dForward(x, weight: w, stride: 1, padding: 1)),
             Digest.of(try e.conv2dBackwardData(dy, weight: w, geometry: g)),
             Digest.of(try e.conv2dBackwardWeights(dy, input: x, geometry: g)),
             Digest.of(try e.conv2dInference(x, weight: w, bias: b, stride: 1, padding: 1, residual: dy, relu: true))]
        }
        let two = try digests(try ComputeEngine(threads: 2, conv3x3: .direct))
        #expect(try digests(try ComputeEngine(threads: 1, conv3x3: .direct)) == two)
        #expect(try digests(try ComputeEngine(threads: 2, conv3x3: .direct)) == two)
    }

    /// The inference epilogue (bias, residual, ReLU) against the float64 reference.
    @Test func inferenceEpilogue() throws {
        try #require(Conv3x3Kernel.cpuSupportsDirect)
        let engine = try ComputeEngine(threads: 2, conv3x3: .direct)
        let x = randomPair([3, 6, 7, 16], .nhwc, "direct.inf.x", 0)
        let w = randomPair([32, 16, 3, 3], .oihw, "direct.inf.w", 0)
        let b = randomPair([32], .plain, "direct.inf.b", 0)
        let r = randomPair([3, 6, 7, 32], .nhwc, "direct.inf.r", 0)
        for (residual, relu) in [(false, false), (false, true), (true, false), (true, true)] {
            let fast = try engine.conv2dInference(x.f32, weight: w.f32, bias: b.f32, stride: 1, padding: 1, residual: residual ? r.f32 : nil, relu: relu)
            let exact = try engine.conv2dInference(x.f64, weight: w.f64, bias: b.f64, stride: 1, padding: 1, residual: residual ? r.f64 : nil, relu: relu)
            expectClose(fast, exact, 1e-5, "residual \(residual) relu \(relu)")
        }
    }
}

private func expectClose(_ a: Tensor, _ ref: Tensor, _ tolerance: Double, _ what: String) {
    let error = relativeError(a, ref)
    #expect(error < tolerance, "\(what): relative error \(error)")
}
