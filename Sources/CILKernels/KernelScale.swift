/// AANets' stable convolution uses W_base ⊙ s with one scale per (output, input) kernel:
/// s is [O, I, 1, 1] and is broadcast over the KH×KW window (the MTL-style parameterisation).
extension ComputeEngine {
    public func scaleKernels(_ weight: Tensor, scales: Tensor) -> Tensor {
        precondition(weight.rank == 4 && scales.shape == [weight.shape[0], weight.shape[1], 1, 1],
                     "kernel scales \(scales.shape) do not match weight \(weight.shape)")
        let out = Tensor(uninitialized: weight.shape, dtype: weight.dtype, layout: weight.layout)
        switch weight.dtype {
        case .float32: Reference.scaleKernels(Float.self, weight, scales, out)
        case .float64: Reference.scaleKernels(Double.self, weight, scales, out)
        }
        record("scale_kernels", inputs: [weight, scales], output: out)
        return out
    }

    /// d scales[o, i] = Σ_hw g[o, i, h, w] · W[o, i, h, w].
    public func scaleKernelsBackwardScales(_ gradOutput: Tensor, weight: Tensor) -> Tensor {
        let out = Tensor(uninitialized: [weight.shape[0], weight.shape[1], 1, 1], dtype: weight.dtype, layout: .oihw)
        switch weight.dtype {
        case .float32: Reference.scaleKernelsBackwardScales(Float.self, gradOutput, weight, out)
        case .float64: Reference.scaleKernelsBackwardScales(Double.self, gradOutput, weight, out)
        }
        record("scale_kernels.backward_scales", inputs: [gradOutput, weight], output: out)
        return out
    }
}

extension Reference {
    static func scaleKernels<T: KernelScalar>(_: T.Type, _ w: Tensor, _ s: Tensor, _ out: Tensor) {
        let pw = w.scalars(T.self), ps = s.scalars(T.self), po = out.mutableScalars(T.self)
        let window = w.shape[2] * w.shape[3]
        for k in 0..<ps.count {
            let scale = ps[k]
            for j in 0..<window { po[k * window + j] = pw[k * window + j] * scale }
        }
    }

    static func scaleKernelsBackwardScales<T: KernelScalar>(_: T.Type, _ g: Tensor, _ w: Tensor, _ out: Tensor) {
        let pg = g.scalars(T.self), pw = w.scalars(T.self), po = out.mutableScalars(T.self)
        let window = w.shape[2] * w.shape[3]
        for k in 0..<po.count {
            var acc: T = 0
            for j in 0..<window { acc += pg[k * window + j] * pw[k * window + j] }
            po[k] = acc
        }
    }
}
