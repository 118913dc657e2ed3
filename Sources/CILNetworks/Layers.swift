import Foundation

/// Kaiming-normal initialisation (fan_out, ReLU gain) from a named random stream, as the
/// reference ResNets initialise their convolutions.
public func kaimingNormalConvWeight(_ shape: [Int], seed: UInt64, name: String) -> Tensor {
    let fanOut = shape[0] * shape[2] * shape[3]
    let std = (2.0 / Double(fanOut)).squareRoot()
    var stream = RandomStream(seed: seed, purpose: "init.kaiming_normal." + name)
    let values = (0..<shape.reduce(1, *)).map { _ in Float(stream.nextNormal() * std) }
    return Tensor(shape: shape, scalars: values, layout: .oihw)
}

/// A bias-free 2-d convolution. With `scales` set it computes conv(x, W ⊙ s): AANets'
/// stable branch, where W is frozen and only the per-kernel scales s learn.
public final class Conv2D: Module {
    public let weight: Parameter
    public let scales: Parameter?
    public let stride: Int
    public let padding: Int

    public init(weight: Parameter, scales: Parameter? = nil, stride: Int, padding: Int) {
        self.weight = weight
        self.scales = scales
        self.stride = stride
        self.padding = padding
    }

    public convenience init(name: String, inChannels: Int, outChannels: Int, kernel: Int, stride: Int, padding: Int, seed: UInt64) {
        let w = kaimingNormalConvWeight([outChannels, inChannels, kernel, kernel], seed: seed, name: name + ".weight")
        self.init(weight: Parameter(name: name + ".weight", value: w), stride: stride, padding: padding)
    }

    public var parameters: [Parameter] { [weight] + (scales.map { [$0] } ?? []) }
    public var outChannels: Int { weight.value.shape[0] }

    public func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var {
        try forward(g, x, mode: mode, outputLayout: .nhwc)
    }

    public func forward(_ g: Graph, _ x: Var, mode: Mode, outputLayout: Layout) throws -> Var {
        var w = g.parameter(weight)
        if let scales { w = g.scaleKernels(w, scales: g.parameter(scales)) }
        return try g.conv2d(x, weight: w, stride: stride, padding: padding, outputLayout: outputLayout)
    }

    /// With `spec.stableConvolutions`, the copy is the stable-branch version: the same
    /// kernels, frozen, times learnable per-kernel scales initialised to 1.
    public func clone(_ spec: CloneSpec) -> Self {
        let w = weight.copy(name: spec.rename(weight.name))
        if spec.stableConvolutions && scales == nil {
            w.isTrainable = false
            let shape = [weight.value.shape[0], weight.value.shape[1], 1, 1]
            let s = Parameter(name: spec.rename(weight.name) + ".scales",
                              value: Tensor(filled: 1, shape: shape, dtype: weight.value.dtype, layout: .oihw))
            return Self(weight: w, scales: s, stride: stride, padding: padding)
        }
        return Self(weight: w, scales: scales.map { $0.copy(name: spec.rename($0.name)) }, stride: stride, padding: padding)
    }
}

/// Batch normalisation over the channel axis (PyTorch semantics: momentum 0.1, biased
/// variance for normalising, unbiased variance in the running estimate), with an optional
/// fused ReLU after it.
public final class BatchNorm: Module {
    public let gamma: Parameter
    public let beta: Parameter
    public let runningMean: Parameter
    public let runningVariance: Parameter
    public let fusedReLU: Bool
    public var momentum = 0.1
    public var epsilon = 1e-5

    public init(gamma: Parameter, beta: Parameter, runningMean: Parameter, runningVariance: Parameter, fusedReLU: Bool) {
        self.gamma = gamma
        self.beta = beta
        self.runningMean = runningMean
        self.runningVariance = runningVariance
        self.fusedReLU = fusedReLU
    }

    public convenience init(name: String, channels: Int, fusedReLU: Bool, gammaInit: Double = 1) {
        self.init(
            gamma: Parameter(name: name + ".gamma", value: Tensor(filled: gammaInit, shape: [channels])),
            beta: Parameter(name: name + ".beta", value: Tensor(zeros: [channels])),
            runningMean: Parameter(name: name + ".running_mean", value: Tensor(zeros: [channels]), isTrainable: false, group: "buffers"),
            runningVariance: Parameter(name: name + ".running_var", value: Tensor(filled: 1, shape: [channels]), isTrainable: false, group: "buffers"),
            fusedReLU: fusedReLU)
    }

    public var parameters: [Parameter] { [gamma, beta, runningMean, runningVariance] }

    public func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var {
        switch mode {
        case .training:
            let (y, stats) = try g.batchNormTraining(x, gamma: g.parameter(gamma), beta: g.parameter(beta), epsilon: epsilon, fusedReLU: fusedReLU)
            updateRunningStatistics(stats, count: g[x].count / g[x].shape.last!, engine: g.engine)
            return y
        case .evaluation:
            let y = try g.batchNormInference(x, gamma: g.parameter(gamma), beta: g.parameter(beta), runningMean: runningMean.value, runningVariance: runningVariance.value, epsilon: epsilon)
            return fusedReLU ? g.relu(y) : y
        }
    }

    /// [ReLU](self(x) + residual), the end of a residual block. In training one fused op
    /// (`Graph.batchNormAddTraining`); in evaluation the affine map, then the join.
    public func forward(_ g: Graph, _ x: Var, adding residual: Var, relu: Bool, mode: Mode) throws -> Var {
        precondition(!fusedReLU, "a batch norm that ends a residual block has no ReLU of its own")
        switch mode {
        case .training:
            let (y, stats) = try g.batchNormAddTraining(x, gamma: g.parameter(gamma), beta: g.parameter(beta), residual: residual,
                                                         epsilon: epsilon, relu: relu)
            updateRunningStatistics(stats, count: g[x].count / g[x].shape.last!, engine: g.engine)
            return y
        case .evaluation:
            let y = try forward(g, x, mode: mode)
            return relu ? g.addReLU(y, residual) : g.add(y, residual)
        }
    }

    private func updateRunningStatistics(_ stats: BatchNormStatistics, count: Int, engine: ComputeEngine) {
        let unbiased = Double(count) / Double(max(count - 1, 1))
        runningMean.value = engine.axpby(runningMean.value, alpha: 1 - momentum, stats.mean, beta: momentum)
        runningVariance.value = engine.axpby(runningVariance.value, alpha: 1 - momentum, stats.variance, beta: momentum * unbiased)
    }

    public func clone(_ spec: CloneSpec) -> Self {
        let r = spec.rename
        let copy = Self(gamma: gamma.copy(name: r(gamma.name)), beta: beta.copy(name: r(beta.name)),
                        runningMean: runningMean.copy(name: r(runningMean.name)),
                        runningVariance: runningVariance.copy(name: r(runningVariance.name)), fusedReLU: fusedReLU)
        copy.momentum = momentum
        copy.epsilon = epsilon
        return copy
    }
}

/// 3×3/2 max-pooling with padding 1 (ResNet-18's stem).
public final class MaxPool: Module {
    public let kernel: Int, stride: Int, padding: Int
    public init(kernel: Int, stride: Int, padding: Int) {
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }
    public var parameters: [Parameter] { [] }
    public func forward(_ g: Graph, _ x: Var, mode: Mode) throws -> Var {
        try g.maxPool2d(x, kernel: kernel, stride: stride, padding: padding)
    }
    public func clone(_ spec: CloneSpec) -> Self { Self(kernel: kernel, stride: stride, padding: padding) }
}
