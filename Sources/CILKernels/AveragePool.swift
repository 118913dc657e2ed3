// Global average pooling NHWC [N,H,W,C] -> plain [N,C] and its backward. Images are
// independent, so the fast path splits over images; each image's sum runs in a fixed order.

extension ComputeEngine {
    /// Mean over H and W of each image and channel.
    public func globalAveragePool(_ x: Tensor) -> Tensor {
        precondition(x.rank == 4 && x.layout == .nhwc, "globalAveragePool expects NHWC [N,H,W,C], got \(x.layout) \(x.shape)")
        let n = x.shape[0], pixels = x.shape[1] * x.shape[2], c = x.shape[3]
        precondition(pixels > 0, "globalAveragePool over an empty image: \(x.shape)")
        let y = Tensor(uninitialized: [n, c], dtype: x.dtype, layout: .plain)
        if usesReference(x.dtype) {
            switch x.dtype {
            case .float32: referencePool(Float.self, x, y, images: n, pixels: pixels, channels: c)
            case .float64: referencePool(Double.self, x, y, images: n, pixels: pixels, channels: c)
            }
        } else {
            fastPool(x.floatPointer, y.floatPointer, images: n, pixels: pixels, channels: c, threads: threads)
        }
        record("globalAveragePool", inputs: [x], output: y)
        return y
    }

    /// dx[n,h,w,c] = dy[n,c] / (H*W).
    public func globalAveragePoolBackward(_ gradOutput: Tensor, inputShape: [Int]) -> Tensor {
        precondition(inputShape.count == 4 && gradOutput.count == inputShape[0] * inputShape[3] && gradOutput.rank == 2,
                     "globalAveragePoolBackward: gradOutput \(gradOutput.shape) does not fit input \(inputShape)")
        let n = inputShape[0], pixels = inputShape[1] * inputShape[2], c = inputShape[3]
        precondition(pixels > 0, "globalAveragePoolBackward over an empty image: \(inputShape)")
        let dx = Tensor(uninitialized: inputShape, dtype: gradOutput.dtype, layout: .nhwc)
        if usesReference(gradOutput.dtype) {
            switch gradOutput.dtype {
            case .float32: referencePoolBackward(Float.self, gradOutput, dx, images: n, pixels: pixels, channels: c)
            case .float64: referencePoolBackward(Double.self, gradOutput, dx, images: n, pixels: pixels, channels: c)
            }
        } else {
            fastPoolBackward(gradOutput.floatPointer, dx.floatPointer, images: n, pixels: pixels, channels: c, threads: threads)
        }
        record("globalAveragePoolBackward", inputs: [gradOutput], output: dx)
        return dx
    }
}

private func referencePool<T: BinaryFloatingPoint>(_: T.Type, _ x: Tensor, _ y: Tensor, images: Int, pixels: Int, channels: Int) {
    let p = typedPointer(x, T.self), q = typedPointer(y, T.self)
    for n in 0..<images {
        for c in 0..<channels {
            var s = 0.0
            for i in 0..<pixels { s += Double(p[(n * pixels + i) * channels + c]) }
            q[n * channels + c] = T(s / Double(pixels))
        }
    }
}

private func referencePoolBackward<T: BinaryFloatingPoint>(_: T.Type, _ dy: Tensor, _ dx: Tensor, images: Int, pixels: Int, channels: Int) {
    let p = typedPointer(dy, T.self), q = typedPointer(dx, T.self)
    for n in 0..<images {
        for i in 0..<pixels {
            for c in 0..<channels { q[(n * pixels + i) * channels + c] = T(Double(p[n * channels + c]) / Double(pixels)) }
        }
    }
}

private func fastPool(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, images: Int, pixels: Int, channels C: Int, threads: Int) {
    let vectorEnd = C & ~15, inverse = 1 / Float(pixels)
    parallelChunks(images, threads: images * pixels * C >= parallelThreshold ? threads : 1) { range in
        for n in range {
            let base = x + n * pixels * C
            var c = 0
            while c < vectorEnd {
                var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
                var i = 0
                while i + 2 <= pixels {
                    a0 += load16(base + i * C + c)
                    a1 += load16(base + (i + 1) * C + c)
                    i += 2
                }
                if i < pixels { a0 += load16(base + i * C + c) }
                store16((a0 + a1) * inverse, y + n * C + c)
                c += 16
            }
            while c < C {
                var s: Float = 0
                for i in 0..<pixels { s += base[i * C + c] }
                y[n * C + c] = s * inverse
                c += 1
            }
        }
    }
}

private func fastPoolBackward(_ dy: UnsafeMutablePointer<Float>, _ dx: UnsafeMutablePointer<Float>, images: Int, pixels: Int, channels C: Int, threads: Int) {
    let vectorEnd = C & ~15, inverse = 1 / Float(pixels)
    parallelChunks(images, threads: images * pixels * C >= parallelThreshold ? threads : 1) { range in
        for n in range {
            let base = dx + n * pixels * C
            var c = 0
            while c < vectorEnd {
                let v = load16(dy + n * C + c) * inverse
                for i in 0..<pixels { store16(v, base + i * C + c) }
                c += 16
            }
            while c < C {
                let v = dy[n * C + c] * inverse
                for i in 0..<pixels { base[i * C + c] = v }
                c += 1
            }
        }
    }
}
