/// Differentiable batch normalisation. Running statistics are the layer's business; these
/// ops return the batch statistics so the layer can update them.
extension Graph {
    /// Training-mode BN with batch statistics, optionally fused with the following ReLU.
    public func batchNormTraining(_ x: Var, gamma: Var, beta: Var, epsilon: Double, fusedReLU: Bool) throws -> (output: Var, statistics: BatchNormStatistics) {
        let input = self[x], scale = self[gamma]
        let (out, stats) = try labelled(gamma) {
            fusedReLU
                ? try engine.batchNormReLUTraining(input, gamma: scale, beta: self[beta], epsilon: epsilon)
                : try engine.batchNormTraining(input, gamma: scale, beta: self[beta], epsilon: epsilon)
        }
        let v = record(out, inputs: [x, gamma, beta]) { g, dy in
            let grads = try g.labelled(gamma) {
                fusedReLU
                    ? try g.engine.batchNormReLUTrainingBackward(dy, input: input, output: out, gamma: scale, statistics: stats)
                    : try g.engine.batchNormTrainingBackward(dy, input: input, gamma: scale, statistics: stats)
            }
            g.accumulate(x, grads.gradInput)
            g.accumulate(gamma, grads.gradGamma)
            g.accumulate(beta, grads.gradBeta)
        }
        return (v, stats)
    }

    /// [ReLU](BN(x) + residual) with batch statistics: a residual block's last batch norm and
    /// its join as one op, which saves the join a pass over memory. Values and gradients are
    /// bit for bit those of `batchNormTraining` followed by `add` or `addReLU`.
    public func batchNormAddTraining(_ x: Var, gamma: Var, beta: Var, residual: Var, epsilon: Double, relu: Bool) throws -> (output: Var, statistics: BatchNormStatistics) {
        let input = self[x], scale = self[gamma]
        let (out, stats) = try labelled(gamma) {
            try engine.batchNormAddTraining(input, gamma: scale, beta: self[beta], residual: self[residual], relu: relu, epsilon: epsilon)
        }
        let v = record(out, inputs: [x, gamma, beta, residual]) { g, dy in
            let joined = relu ? g.engine.reluBackward(dy, output: out) : dy
            g.accumulate(residual, joined)
            guard g.requiresGradient(x) || g.requiresGradient(gamma) || g.requiresGradient(beta) else { return }
            let grads = try g.labelled(gamma) {
                try g.engine.batchNormTrainingBackward(joined, input: input, gamma: scale, statistics: stats)
            }
            g.accumulate(x, grads.gradInput)
            g.accumulate(gamma, grads.gradGamma)
            g.accumulate(beta, grads.gradBeta)
        }
        return (v, stats)
    }

    /// Evaluation-mode BN with running statistics: an affine map per channel.
    public func batchNormInference(_ x: Var, gamma: Var, beta: Var, runningMean: Tensor, runningVariance: Tensor, epsilon: Double) throws -> Var {
        let input = self[x], scale = self[gamma]
        let out = try labelled(gamma) {
            try engine.batchNormInference(input, gamma: scale, beta: self[beta], runningMean: runningMean, runningVariance: runningVariance, epsilon: epsilon)
        }
        return record(out, inputs: [x, gamma, beta]) { g, dy in
            if g.requiresGradient(x) {
                g.accumulate(x, try g.labelled(gamma) { try g.engine.batchNormInferenceBackward(dy, gamma: scale, runningVariance: runningVariance, epsilon: epsilon) })
            }
            if g.requiresGradient(gamma) || g.requiresGradient(beta) {
                // xhat = (x − μ)/√(σ²+ε): dγ = Σ dy·xhat, dβ = Σ dy, summed over all but the channel axis.
                let channels = input.shape.last!
                let rows = input.count / channels
                let flatInput = input.reshaped([rows, channels]), flatGrad = dy.reshaped([rows, channels])
                let mean = g.engine.broadcast(runningMean, axis: 0, count: rows)
                let invStd = g.engine.broadcast(Graph.inverseStd(runningVariance, epsilon: epsilon), axis: 0, count: rows)
                let xhat = g.engine.multiply(g.engine.subtract(flatInput, mean), invStd)
                g.accumulate(gamma, g.engine.reduceSum(g.engine.multiply(flatGrad, xhat), axis: 0))
                g.accumulate(beta, g.engine.reduceSum(flatGrad, axis: 0))
            }
        }
    }

    static func inverseStd(_ variance: Tensor, epsilon: Double) -> Tensor {
        let values = variance.doubles.map { 1 / ($0 + epsilon).squareRoot() }
        return variance.dtype == .float32 ? Tensor(shape: variance.shape, scalars: values.map(Float.init)) : Tensor(shape: variance.shape, scalars: values)
    }
}
