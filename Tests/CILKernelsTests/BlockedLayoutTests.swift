import CILKernels
import Testing

/// The blocked nChw16c activation layout (BlockedLayout.swift): where the reorder puts each
/// element (oneDNN's nChw16c definition), and that batch norm, elementwise ops and
/// convolutions give the same results on blocked tensors as on their NHWC copies.
@Suite struct BlockedLayoutTests {
    let engine = try! ComputeEngine(threads: 2)

    static func tensor(_ shape: [Int], seed: UInt64, dtype: DType = .float32) -> Tensor {
        var r = RandomStream(seed: seed, purpose: "test.blocked")
        let values = (0..<shape.reduce(1, *)).map { _ in Double(Float(r.nextDouble() * 2 - 1)) }
        return dtype == .float32 ? Tensor(shape: shape, scalars: values.map(Float.init), layout: .nhwc)
            : Tensor(shape: shape, scalars: values, layout: .nhwc)
    }

    /// oneDNN's nChw16c ("aBcd16b"): channel c of pixel (n, h, w) at
    /// ((n·C/16 + c/16)·H + h)·W·16 + w·16 + c%16.
    @Test(arguments: [DType.float32, .float64])
    func reorderPlacesEveryElementAsNChw16cDefinesIt(dtype: DType) throws {
        let (n, h, w, c) = (2, 3, 5, 48)
        let x = Self.tensor([n, h, w, c], seed: 1, dtype: dtype)
        let blocked = try engine.reordered(x, to: .nChw16c)
        #expect(blocked.layout == .nChw16c && blocked.shape == x.shape)
        let source = x.doubles, moved = blocked.doubles
        var misplaced = 0
        for i in 0..<n { for y in 0..<h { for z in 0..<w { for k in 0..<c {
            let nhwc = ((i * h + y) * w + z) * c + k
            let nchw16c = ((i * (c / 16) + k / 16) * h + y) * w * 16 + z * 16 + k % 16
            if moved[nchw16c] != source[nhwc] { misplaced += 1 }
        } } } }
        #expect(misplaced == 0)
        let back = try engine.reordered(blocked, to: .nhwc)
        #expect(back.layout == .nhwc && back.doubles == source)
        // A tensor already in the layout comes back untouched; other layouts are refused.
        #expect(try engine.reordered(x, to: .nhwc).storage === x.storage)
        #expect(throws: KernelError.self) { try engine.reordered(Self.tensor([1, 2, 2, 24], seed: 2), to: .nChw16c) }
        #expect(throws: KernelError.self) { try engine.reordered(x.reshaped([n * h * w, c]), to: .nChw16c) }
    }

    /// Batch norm in every mode gives the same bits on a blocked tensor as on its NHWC copy:
    /// the rows of each 16-channel block are summed in the same order. Shapes where a
    /// statistics chunk (8192 elements) ends inside an image, and where images have an odd
    /// number of pixels, exercise the runs that cross image boundaries.
    @Test(arguments: [[3, 5, 5, 32], [4, 8, 8, 64], [2, 16, 16, 32], [3, 3, 3, 48]])
    func batchNormGivesTheSameBitsInEitherLayout(shape: [Int]) throws {
        for dtype in [DType.float32, .float64] {
            let c = shape[3]
            let x = Self.tensor(shape, seed: 3, dtype: dtype), dy = Self.tensor(shape, seed: 4, dtype: dtype)
            let residual = Self.tensor(shape, seed: 5, dtype: dtype)
            let gamma = Self.tensor([1, 1, 1, c], seed: 6, dtype: dtype).reshaped([c]), beta = Self.tensor([1, 1, 1, c], seed: 7, dtype: dtype).reshaped([c])
            func blocked(_ t: Tensor) throws -> Tensor { try engine.reordered(t, to: .nChw16c) }
            func same(_ nhwc: Tensor, _ fromBlocked: Tensor, _ what: String) throws {
                #expect(fromBlocked.layout == .nChw16c, "\(what)")
                #expect(try engine.reordered(fromBlocked, to: .nhwc).doubles == nhwc.doubles, "\(what) \(dtype) \(shape)")
            }
            let plain = try engine.batchNormTraining(x, gamma: gamma, beta: beta)
            let tiled = try engine.batchNormTraining(blocked(x), gamma: gamma, beta: beta)
            try same(plain.output, tiled.output, "training forward")
            #expect(plain.statistics.mean.doubles == tiled.statistics.mean.doubles && plain.statistics.variance.doubles == tiled.statistics.variance.doubles)
            let plainReLU = try engine.batchNormReLUTraining(x, gamma: gamma, beta: beta)
            try same(plainReLU.output, try engine.batchNormReLUTraining(blocked(x), gamma: gamma, beta: beta).output, "training forward + ReLU")
            for relu in [false, true] {
                try same(try engine.batchNormAddTraining(x, gamma: gamma, beta: beta, residual: residual, relu: relu).output,
                         try engine.batchNormAddTraining(blocked(x), gamma: gamma, beta: beta, residual: blocked(residual), relu: relu).output,
                         "training forward + residual, ReLU \(relu)")
            }
            let back = try engine.batchNormTrainingBackward(dy, input: x, gamma: gamma, statistics: plain.statistics)
            let tiledBack = try engine.batchNormTrainingBackward(blocked(dy), input: blocked(x), gamma: gamma, statistics: tiled.statistics)
            try same(back.gradInput, tiledBack.gradInput, "backward")
            #expect(back.gradGamma.doubles == tiledBack.gradGamma.doubles && back.gradBeta.doubles == tiledBack.gradBeta.doubles)
            try same(try engine.batchNormReLUTrainingBackward(dy, input: x, output: plainReLU.output, gamma: gamma, statistics: plainReLU.statistics).gradInput,
                     try engine.batchNormReLUTrainingBackward(blocked(dy), input: blocked(x), output: blocked(plainReLU.output), gamma: gamma,
                                                              statistics: plainReLU.statistics).gradInput, "backward + ReLU")
            let variance = Self.tensor([1, 1, 1, c], seed: 8, dtype: dtype).reshaped([c])
            let positive = engine.multiply(variance, variance)
            try same(try engine.batchNormInference(x, gamma: gamma, beta: beta, runningMean: beta, runningVariance: positive),
                     try engine.batchNormInference(blocked(x), gamma: gamma, beta: beta, runningMean: beta, runningVariance: positive), "inference")
            // Elementwise ops do not care, but must keep the layout.
            try same(engine.addReLU(x, residual), engine.addReLU(try blocked(x), try blocked(residual)), "addReLU")
            // A residual in the other layout is refused, not misread.
            #expect(throws: KernelError.self) { try engine.batchNormAddTraining(blocked(x), gamma: gamma, beta: beta, residual: residual, relu: true) }
        }
    }

    /// Convolutions read and write either layout, on every path (oneDNN direct, Winograd
    /// where the CPU has it, float64 reference loops through NHWC copies). A blocked result is
    /// the NHWC one reordered: bit for bit where both run the same kernel (Winograd, whose
    /// NHWC calls reorder to nChw16c anyway, and the reference loops), within float32
    /// rounding where oneDNN picks a different direct kernel for the blocked layout.
    @Test(arguments: [(16, 32, 3, 2), (32, 32, 3, 1), (64, 64, 3, 1), (16, 32, 1, 2), (32, 64, 3, 2)])
    func convolutionsTakeEitherLayout(inChannels: Int, outChannels: Int, kernel: Int, stride: Int) throws {
        var engines = [("onednn", try ComputeEngine(threads: 2, conv3x3: .onednn))]
        if Conv3x3Kernel.cpuSupportsWinograd { engines.append(("winograd", try ComputeEngine(threads: 2, conv3x3: .winograd))) }
        for (name, engine) in engines {
            for dtype in [DType.float32, .float64] {
                let padding = kernel / 2
                let x = Self.tensor([3, 8, 8, inChannels], seed: 9, dtype: dtype)
                let w = Self.tensor([outChannels, inChannels, kernel, kernel], seed: 10, dtype: dtype).reshaped([outChannels, inChannels, kernel, kernel], layout: .oihw)
                let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: stride, padding: padding)
                let dy = Self.tensor(g.outputShape, seed: 11, dtype: dtype)
                let bias = Self.tensor([1, 1, 1, outChannels], seed: 12, dtype: dtype).reshaped([outChannels])
                let residual = Self.tensor(g.outputShape, seed: 13, dtype: dtype)
                let y = try engine.conv2dForward(x, weight: w, stride: stride, padding: padding)
                let dx = try engine.conv2dBackwardData(dy, weight: w, geometry: g)
                let dw = try engine.conv2dBackwardWeights(dy, input: x, geometry: g)
                let folded = try engine.conv2dInference(x, weight: w, bias: bias, stride: stride, padding: padding, residual: residual, relu: true)
                // Exact where the same kernel runs on both layouts.
                let exact = dtype == .float64 || name == "winograd" && stride == 1 && min(inChannels, outChannels) >= 32
                for (input, output) in [(Layout.nhwc, Layout.nChw16c), (.nChw16c, .nChw16c), (.nChw16c, .nhwc)] {
                    let label = "\(name) \(dtype) \(input)->\(output) \(g)"
                    let xi = try engine.reordered(x, to: input), dyo = try engine.reordered(dy, to: output)
                    let results: [(Tensor, Tensor, Layout)] = [
                        (y, try engine.conv2dForward(xi, weight: w, stride: stride, padding: padding, outputLayout: output), output),
                        (dx, try engine.conv2dBackwardData(dyo, weight: w, geometry: g, inputLayout: input), input),
                        (dw, try engine.conv2dBackwardWeights(dyo, input: xi, geometry: g), .oihw),
                        (folded, try engine.conv2dInference(xi, weight: w, bias: bias, stride: stride, padding: padding,
                                                             residual: try engine.reordered(residual, to: output), relu: true, outputLayout: output), output),
                    ]
                    for (k, (reference, result, layout)) in results.enumerated() {
                        #expect(result.layout == layout, "\(label) result \(k)")
                        let got = layout == .oihw ? result.doubles : try engine.reordered(result, to: .nhwc).doubles
                        let want = reference.doubles
                        if exact && k != 2 {
                            #expect(got == want, "\(label) result \(k)")
                        } else {
                            let error = zip(got, want).map { abs($0 - $1) }.max()! / want.map(abs).max()!
                            #expect(error < (dtype == .float64 ? 1e-12 : 1e-5), "\(label) result \(k): \(error)")
                        }
                    }
                }
            }
        }
    }
}
