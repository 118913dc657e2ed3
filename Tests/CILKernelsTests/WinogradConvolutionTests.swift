import CILKernels
import Testing

/// oneDNN's Winograd kernels (CILBENCH_CONV3X3=winograd): every pass against float64, the
/// same bits on repeated calls, and the fall-back where they do not apply. Runs only where
/// oneDNN offers them (AVX-512); elsewhere the engine must fall back to the direct kernels.
@Suite struct WinogradConvolutionTests {
    static func tensor(_ shape: [Int], _ layout: Layout, seed: UInt64) -> (f32: Tensor, f64: Tensor) {
        var r = RandomStream(seed: seed, purpose: "test.winograd")
        // Values exact in float32, so both tensors hold the same numbers.
        let values = (0..<shape.reduce(1, *)).map { _ in Double(Float(r.nextDouble() * 2 - 1)) }
        return (Tensor(shape: shape, scalars: values.map(Float.init), layout: layout), Tensor(shape: shape, scalars: values, layout: layout))
    }

    /// max|a - exact| / max|exact|.
    static func error(_ a: Tensor, _ exact: Tensor) -> Double {
        let x = a.doubles, y = exact.doubles
        var e = 0.0, m = 0.0
        for i in y.indices { e = max(e, abs(x[i] - y[i])); m = max(m, abs(y[i])) }
        return e / m
    }

    @Test(.enabled(if: Conv3x3Kernel.cpuSupportsWinograd), arguments: [(32, 32, 16), (64, 64, 8), (32, 64, 8), (16, 16, 32)])
    func passesMatchFloat64(inChannels: Int, outChannels: Int, size: Int) throws {
        let engine = try ComputeEngine(threads: 2, conv3x3: .winograd)
        #expect(engine.conv3x3Kernel == .winograd && engine.environment["conv3x3_kernel"] == "onednn-winograd")
        let x = Self.tensor([4, size, size, inChannels], .nhwc, seed: 1)
        let w = Self.tensor([outChannels, inChannels, 3, 3], .oihw, seed: 2)
        let g = Conv2DGeometry(input: x.f32.shape, weight: w.f32.shape, stride: 1, padding: 1)
        let dy = Self.tensor(g.outputShape, .nhwc, seed: 3)
        let y = try engine.conv2dForward(x.f32, weight: w.f32, stride: 1, padding: 1)
        let dx = try engine.conv2dBackwardData(dy.f32, weight: w.f32, geometry: g)
        let dw = try engine.conv2dBackwardWeights(dy.f32, input: x.f32, geometry: g)
        let errors = [Self.error(y, try engine.conv2dForward(x.f64, weight: w.f64, stride: 1, padding: 1)),
                      Self.error(dx, try engine.conv2dBackwardData(dy.f64, weight: w.f64, geometry: g)),
                      Self.error(dw, try engine.conv2dBackwardWeights(dy.f64, input: x.f64, geometry: g))]
        print("Winograd \(inChannels)->\(outChannels) @\(size) vs float64, max|err|/max|exact| fwd, bwd-data, bwd-weights: \(errors)")
        // Direct float32 kernels land near 1e-7 here; Winograd's transforms cost a few ulps more.
        #expect(errors.allSatisfy { $0 < 1e-5 }, "\(errors)")
        // Deterministic: the same call gives the same bits.
        #expect(try engine.conv2dForward(x.f32, weight: w.f32, stride: 1, padding: 1).floats == y.floats)
        #expect(try engine.conv2dBackwardData(dy.f32, weight: w.f32, geometry: g).floats == dx.floats)
        #expect(try engine.conv2dBackwardWeights(dy.f32, input: x.f32, geometry: g).floats == dw.floats)
    }

    /// The evaluation-mode convolution (teachers, test sets) with bias, residual and ReLU, on
    /// oneDNN's kernel (64 channels) and on the 16-channel F(2x2, 3x3) one.
    @Test(.enabled(if: Conv3x3Kernel.cpuSupportsWinograd), arguments: [(false, 64, 8), (true, 64, 8), (false, 16, 32), (true, 16, 16)])
    func foldedInferenceMatchesFloat64(withResidual: Bool, channels: Int, size: Int) throws {
        let engine = try ComputeEngine(threads: 2, conv3x3: .winograd)
        let x = Self.tensor([3, size, size, channels], .nhwc, seed: 6), w = Self.tensor([channels, channels, 3, 3], .oihw, seed: 7)
        let bias = Self.tensor([channels], .plain, seed: 8), residual = Self.tensor([3, size, size, channels], .nhwc, seed: 9)
        let y = try engine.conv2dInference(x.f32, weight: w.f32, bias: bias.f32, stride: 1, padding: 1,
                                           residual: withResidual ? residual.f32 : nil, relu: true)
        let exact = try engine.conv2dInference(x.f64, weight: w.f64, bias: bias.f64, stride: 1, padding: 1,
                                               residual: withResidual ? residual.f64 : nil, relu: true)
        let error = Self.error(y, exact)
        #expect(error < 1e-5, "\(error)")
        #expect(try engine.conv2dInference(x.f32, weight: w.f32, bias: bias.f32, stride: 1, padding: 1,
                                           residual: withResidual ? residual.f32 : nil, relu: true).floats == y.floats)
    }

    /// Transformed weights are kept by content: layers sharing a geometry alternate, and
    /// weights changed in place (same buffer, other values) are transformed anew.
    @Test(.enabled(if: Conv3x3Kernel.cpuSupportsWinograd))
    func keptWeightTransformsAreExact() throws {
        let engine = try ComputeEngine(threads: 2, conv3x3: .winograd)
        let x = Self.tensor([2, 8, 8, 32], .nhwc, seed: 10).f32, bias = Self.tensor([32], .plain, seed: 11).f32
        var w1 = Self.tensor([32, 32, 3, 3], .oihw, seed: 12).f32
        let w2 = Self.tensor([32, 32, 3, 3], .oihw, seed: 13).f32
        func fresh(_ w: Tensor) throws -> [Float] {
            try ComputeEngine(threads: 2, conv3x3: .winograd).conv2dInference(x, weight: w, bias: bias, stride: 1, padding: 1, residual: nil, relu: false).floats
        }
        func kept(_ w: Tensor) throws -> [Float] {
            try engine.conv2dInference(x, weight: w, bias: bias, stride: 1, padding: 1, residual: nil, relu: false).floats
        }
        let expected1 = try fresh(w1), expected2 = try fresh(w2)
        for _ in 0..<2 {
            #expect(try kept(w1) == expected1)
            #expect(try kept(w2) == expected2)
        }
        w1.withUnsafeMutableBufferPointer(as: Float.self) { $0[5] += 0.25 }
        #expect(try kept(w1) == fresh(w1))
        #expect(try kept(w1) != expected1)
    }

    @Test func fallsBackWhereItDoesNotApply() throws {
        let engine = try ComputeEngine(threads: 2, conv3x3: .winograd)
        #expect(engine.conv3x3Kernel == (Conv3x3Kernel.cpuSupportsWinograd ? .winograd : .onednn))
        let direct = try ComputeEngine(threads: 2, conv3x3: .onednn)
        // 16 channels (no gain there) and stride 2 run the direct kernels: the same bits.
        for (channels, stride) in [(16, 1), (32, 2)] {
            let x = Self.tensor([2, 8, 8, channels], .nhwc, seed: 4).f32, w = Self.tensor([channels, channels, 3, 3], .oihw, seed: 5).f32
            #expect(try engine.conv2dForward(x, weight: w, stride: stride, padding: 1).floats
                    == direct.conv2dForward(x, weight: w, stride: stride, padding: 1).floats)
        }
    }

    /// The 16-channel kernels split images over threads and compute each output in one
    /// fixed order (backward-weights: partials over a batch-determined chunking, summed in
    /// chunk order): the same bits on one thread as on two, in every pass.
    @Test(.enabled(if: Conv3x3Kernel.cpuSupportsWinograd))
    func sixteenChannelKernelGivesTheSameBitsOnAnyThreadCount() throws {
        let x = Self.tensor([5, 32, 32, 16], .nhwc, seed: 11).f32, w = Self.tensor([16, 16, 3, 3], .oihw, seed: 12).f32
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 1, padding: 1)
        let dy = Self.tensor(g.outputShape, .nhwc, seed: 13).f32
        let results = try [1, 2].map { threads in
            let engine = try ComputeEngine(threads: threads, conv3x3: .winograd)
            return (try engine.conv2dForward(x, weight: w, stride: 1, padding: 1).floats,
                    try engine.conv2dBackwardData(dy, weight: w, geometry: g).floats,
                    try engine.conv2dBackwardWeights(dy, input: x, geometry: g).floats)
        }
        #expect(results[0].0 == results[1].0)
        #expect(results[0].1 == results[1].1)
        #expect(results[0].2 == results[1].2)
    }
}
