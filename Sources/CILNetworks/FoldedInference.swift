/// Evaluation without gradients (teacher forwards, test evaluation) folds each batch norm
/// into the convolution before it: W' = W·γ/√(σ²+ε) per output channel and
/// b' = β − μ·γ/√(σ²+ε), then runs one fused oneDNN convolution with the bias, the residual
/// sum and the ReLU in its epilogue. Mathematically the same map as conv → BN → (+) → ReLU
/// with running statistics; it saves three passes over every activation.
extension Graph {
    /// Whether a forward in `mode` may take the folded path.
    func foldsBatchNorm(_ mode: Mode) -> Bool { mode == .evaluation && !recordsGradients && engine.path == .fast }

    /// relu?(BN(conv(x)) [+ residual]) in one kernel; only for `foldsBatchNorm` forwards.
    func foldedConvBatchNorm(_ x: Var, conv: Conv2D, bn: BatchNorm, residual: Var?, relu: Bool, outputLayout: Layout = .nhwc) throws -> Var {
        var weight = conv.weight.value
        if let scales = conv.scales { weight = engine.scaleKernels(weight, scales: scales.value) }
        let (folded, bias) = Self.fold(weight, bn)
        return constant(try engine.conv2dInference(self[x], weight: folded, bias: bias, stride: conv.stride, padding: conv.padding,
                                                   residual: residual.map { self[$0] }, relu: relu, outputLayout: outputLayout))
    }

    static func fold(_ weight: Tensor, _ bn: BatchNorm) -> (weight: Tensor, bias: Tensor) {
        let gamma = bn.gamma.value.doubles, beta = bn.beta.value.doubles
        let mean = bn.runningMean.value.doubles, variance = bn.runningVariance.value.doubles
        let outChannels = weight.shape[0], perChannel = weight.count / outChannels
        var w = weight.floats
        var b = [Float](repeating: 0, count: outChannels)
        for o in 0..<outChannels {
            let scale = gamma[o] / (variance[o] + bn.epsilon).squareRoot()
            for i in 0..<perChannel { w[o * perChannel + i] = Float(Double(w[o * perChannel + i]) * scale) }
            b[o] = Float(beta[o] - mean[o] * scale)
        }
        return (Tensor(shape: weight.shape, scalars: w, layout: .oihw), Tensor(shape: [outChannels], scalars: b))
    }
}
