// The Winograd engine's own F(2x2, 3x3) kernel (Sources/CConv3x3/winograd16.c) for the
// 16-channel 3x3 layers, where oneDNN 2.6's Winograd runs slower than its direct kernels
// and those are bound by the FMA peak: ResNet-32's first stage, forward, backward-data
// (the forward of the output gradient with the kernel flipped and its channel axes
// swapped), the teacher's folded evaluation forward, and backward-weights.
// Only in the Winograd engine (the default on AVX-512), whose results already differ from
// oneDNN's direct engine's in their last bits.
import CConv3x3

extension ComputeEngine {
    /// Whether this 3x3 layer runs on the 16-channel Winograd kernel.
    func runsWinograd16(_ g: Conv2DGeometry) -> Bool {
        conv3x3Kernel == .winograd && Self.cpuSupportsWinograd16 && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1
            && g.padding == 1 && g.inChannels == 16 && g.outChannels == 16 && g.height % 2 == 0 && g.width % 16 == 0
            && g.height > 0 && g.batch > 0
    }

    static let cpuSupportsWinograd16 = cil_wino16_available() != 0

    /// y = relu?(conv(x, W) + bias + residual) for NHWC `x` and OIHW `weight`.
    func winograd16Forward(_ x: UnsafeRawPointer, oihw weight: UnsafeRawPointer, bias: UnsafeRawPointer?, residual: UnsafeRawPointer?,
                           relu: Bool, into y: UnsafeMutableRawPointer, _ g: Conv2DGeometry) throws {
        let hwio = Self.hwio(weight.assumingMemoryBound(to: Float.self), out: 16, in: 16, flipped: false)
        try runWinograd16(x, hwio: hwio, bias: bias, residual: residual, relu: relu, into: y, g)
    }

    /// dx = the forward convolution of dy with the kernel flipped and its channel axes swapped.
    func winograd16BackwardData(_ dy: UnsafeRawPointer, oihw weight: UnsafeRawPointer, into dx: UnsafeMutableRawPointer,
                                _ g: Conv2DGeometry) throws {
        let flipped = Self.hwio(weight.assumingMemoryBound(to: Float.self), out: 16, in: 16, flipped: true)
        try runWinograd16(dy, hwio: flipped, bias: nil, residual: nil, relu: false, into: dx, g)
    }

    /// dW (OIHW) summed over the batch: per chunk of images a partial of the transformed
    /// products, the partials summed in chunk order (the chunk count depends on the batch
    /// only, so the bits do not depend on the thread count), then transformed back.
    func winograd16BackwardWeights(_ x: UnsafeRawPointer, _ dy: UnsafeRawPointer, into dw: UnsafeMutableRawPointer,
                                   _ g: Conv2DGeometry) throws {
        let xf = x.assumingMemoryBound(to: Float.self), dyf = dy.assumingMemoryBound(to: Float.self)
        try sumOverImageChunks(batch: g.batch, size: 16 * 256, "Winograd 16-channel backward-weights") { partial, first, last in
            cil_wino16_backward_weights(xf, dyf, partial, first, last, Int32(g.height), Int32(g.width))
        } finish: { sum in
            cil_wino16_weight_gradient(sum, dw.assumingMemoryBound(to: Float.self))
        }
    }

    private func runWinograd16(_ x: UnsafeRawPointer, hwio: [Float], bias: UnsafeRawPointer?, residual: UnsafeRawPointer?, relu: Bool,
                               into y: UnsafeMutableRawPointer, _ g: Conv2DGeometry) throws {
        var transformed = [Float](repeating: 0, count: 16 * 256)
        hwio.withUnsafeBufferPointer { w in
            transformed.withUnsafeMutableBufferPointer { cil_wino16_transform_weights(w.baseAddress, $0.baseAddress) }
        }
        let xf = x.assumingMemoryBound(to: Float.self), yf = y.assumingMemoryBound(to: Float.self)
        let bf = bias?.assumingMemoryBound(to: Float.self), rf = residual?.assumingMemoryBound(to: Float.self)
        let failed = FailureFlag()
        transformed.withUnsafeBufferPointer { u in
            parallelChunks(g.batch, threads: threads) { range in
                if cil_wino16_forward(xf, u.baseAddress, bf, rf, relu ? 1 : 0, yf, Int32(range.lowerBound), Int32(range.upperBound),
                                      Int32(g.height), Int32(g.width)) != 0 { failed.set() }
            }
        }
        if failed.isSet { throw KernelError.invalidArgument("Winograd 16-channel convolution could not allocate its scratch buffers") }
    }
}
