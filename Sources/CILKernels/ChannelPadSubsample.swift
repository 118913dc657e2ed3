// The parameter-free "option A" shortcut of PODNet's CIFAR ResNet (He et al. 2016, §4.2):
// keep every `stride`-th pixel (x[..., ::s, ::s], so ceil(H/s) rows, matching a 3×3
// conv with padding 1 and stride s) and append zero channels up to the block's width.
// Both directions are pure copies, so the fast path and the reference agree bit for bit;
// the reference is written by the definition (one element at a time) to be checkably
// right, the fast path copies whole channel rows.
//
// PyTorch pads with x.mul(0), which would turn an inf or NaN input into NaN channels; the
// padding here is exact zeros, the value that product has for every finite input.

extension ComputeEngine {
    /// NHWC [N, H, W, C] → NHWC [N, ceil(H/s), ceil(W/s), outChannels]; channels ≥ C are 0.
    public func subsampleAndPadChannels(_ x: Tensor, stride: Int, outChannels: Int) -> Tensor {
        precondition(x.rank == 4 && x.layout == .nhwc, "subsampleAndPadChannels expects NHWC [N,H,W,C], got \(x.layout) \(x.shape)")
        precondition(stride >= 1 && outChannels >= x.shape[3], "subsampleAndPadChannels: stride \(stride), \(x.shape[3]) → \(outChannels) channels")
        let geometry = PadSubsampleGeometry(inputShape: x.shape, stride: stride, outChannels: outChannels)
        let y = Tensor(uninitialized: geometry.outputShape, dtype: x.dtype, layout: .nhwc)
        if usesReference(x.dtype) {
            switch x.dtype {
            case .float32: Reference.subsampleAndPadChannels(Float.self, x, y, geometry)
            case .float64: Reference.subsampleAndPadChannels(Double.self, x, y, geometry)
            }
        } else {
            fastSubsampleAndPad(x.mutableScalars(Float.self).baseAddress!, y.mutableScalars(Float.self).baseAddress!, geometry, threads: threads)
        }
        record("subsampleAndPadChannels", inputs: [x], output: y)
        return y
    }

    /// The adjoint: dx[n, s·i, s·j, c] = dy[n, i, j, c] for c < C, every other element 0.
    public func subsampleAndPadChannelsBackward(_ gradOutput: Tensor, inputShape: [Int], stride: Int) -> Tensor {
        precondition(inputShape.count == 4 && gradOutput.rank == 4, "subsampleAndPadChannelsBackward: \(gradOutput.shape) for input \(inputShape)")
        let geometry = PadSubsampleGeometry(inputShape: inputShape, stride: stride, outChannels: gradOutput.shape[3])
        precondition(gradOutput.shape == geometry.outputShape, "subsampleAndPadChannelsBackward: gradient \(gradOutput.shape) for output \(geometry.outputShape)")
        let dx = Tensor(uninitialized: inputShape, dtype: gradOutput.dtype, layout: .nhwc)
        if usesReference(gradOutput.dtype) {
            switch gradOutput.dtype {
            case .float32: Reference.subsampleAndPadChannelsBackward(Float.self, gradOutput, dx, geometry)
            case .float64: Reference.subsampleAndPadChannelsBackward(Double.self, gradOutput, dx, geometry)
            }
        } else {
            fastSubsampleAndPadBackward(gradOutput.mutableScalars(Float.self).baseAddress!, dx.mutableScalars(Float.self).baseAddress!, geometry, threads: threads)
        }
        record("subsampleAndPadChannelsBackward", inputs: [gradOutput], output: dx)
        return dx
    }
}

struct PadSubsampleGeometry {
    let images: Int, height: Int, width: Int, channels: Int
    let stride: Int, outHeight: Int, outWidth: Int, outChannels: Int

    init(inputShape: [Int], stride: Int, outChannels: Int) {
        images = inputShape[0]
        height = inputShape[1]
        width = inputShape[2]
        channels = inputShape[3]
        self.stride = stride
        outHeight = (height + stride - 1) / stride
        outWidth = (width + stride - 1) / stride
        self.outChannels = outChannels
    }

    var outputShape: [Int] { [images, outHeight, outWidth, outChannels] }
}

extension Reference {
    static func subsampleAndPadChannels<T: KernelScalar>(_: T.Type, _ x: Tensor, _ y: Tensor, _ g: PadSubsampleGeometry) {
        let px = x.scalars(T.self), py = y.mutableScalars(T.self)
        for n in 0..<g.images {
            for i in 0..<g.outHeight {
                for j in 0..<g.outWidth {
                    for c in 0..<g.outChannels {
                        let source = ((n * g.height + i * g.stride) * g.width + j * g.stride) * g.channels + c
                        py[((n * g.outHeight + i) * g.outWidth + j) * g.outChannels + c] = c < g.channels ? px[source] : 0
                    }
                }
            }
        }
    }

    static func subsampleAndPadChannelsBackward<T: KernelScalar>(_: T.Type, _ dy: Tensor, _ dx: Tensor, _ g: PadSubsampleGeometry) {
        let pdy = dy.scalars(T.self), pdx = dx.mutableScalars(T.self)
        for n in 0..<g.images {
            for h in 0..<g.height {
                for w in 0..<g.width {
                    let kept = h % g.stride == 0 && w % g.stride == 0
                    for c in 0..<g.channels {
                        let source = ((n * g.outHeight + h / g.stride) * g.outWidth + w / g.stride) * g.outChannels + c
                        pdx[((n * g.height + h) * g.width + w) * g.channels + c] = kept ? pdy[source] : 0
                    }
                }
            }
        }
    }
}

/// Images are independent, so chunks are whole images; copies cannot depend on the split.
private func fastSubsampleAndPad<T: KernelScalar>(_ x: UnsafeMutablePointer<T>, _ y: UnsafeMutablePointer<T>, _ g: PadSubsampleGeometry, threads: Int) {
    let outPixels = g.outHeight * g.outWidth
    parallelChunks(g.images, threads: g.images * outPixels * g.outChannels >= parallelThreshold ? threads : 1) { range in
        for n in range {
            for i in 0..<g.outHeight {
                for j in 0..<g.outWidth {
                    let out = y + ((n * g.outHeight + i) * g.outWidth + j) * g.outChannels
                    out.update(from: x + ((n * g.height + i * g.stride) * g.width + j * g.stride) * g.channels, count: g.channels)
                    (out + g.channels).update(repeating: 0, count: g.outChannels - g.channels)
                }
            }
        }
    }
}

private func fastSubsampleAndPadBackward<T: KernelScalar>(_ dy: UnsafeMutablePointer<T>, _ dx: UnsafeMutablePointer<T>, _ g: PadSubsampleGeometry, threads: Int) {
    let imageSize = g.height * g.width * g.channels
    parallelChunks(g.images, threads: g.images * imageSize >= parallelThreshold ? threads : 1) { range in
        for n in range {
            let image = dx + n * imageSize
            image.update(repeating: 0, count: imageSize)
            for i in 0..<g.outHeight {
                for j in 0..<g.outWidth {
                    (image + (i * g.stride * g.width + j * g.stride) * g.channels)
                        .update(from: dy + ((n * g.outHeight + i) * g.outWidth + j) * g.outChannels, count: g.channels)
                }
            }
        }
    }
}
