/// Learning-rate and weight-decay multipliers of one parameter group. LUCIR freezes the old
/// classifier vectors with a learning-rate scale of 0; AANets' α gets its own optimiser.
public struct ParameterGroupSettings: Sendable, Codable, Equatable {
    public var learningRateScale: Double
    public var weightDecay: Double?

    public init(learningRateScale: Double = 1, weightDecay: Double? = nil) {
        self.learningRateScale = learningRateScale
        self.weightDecay = weightDecay
    }
}

/// Stochastic gradient descent with momentum and L2 weight decay, PyTorch semantics:
/// d = g + λ·p; v ← μ·v + d (v = d on the first step); p ← p − lr·v.
public struct SGD {
    public var learningRate: Double
    public var momentum: Double
    public var weightDecay: Double
    public var groups: [String: ParameterGroupSettings]
    /// Momentum buffers keyed by parameter name (names are unique within a network).
    public private(set) var velocity: [String: Tensor] = [:]

    public init(learningRate: Double, momentum: Double = 0.9, weightDecay: Double = 5e-4, groups: [String: ParameterGroupSettings] = [:]) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        self.groups = groups
    }

    /// Updates every trainable parameter that has a gradient, then clears the gradients.
    public mutating func step(_ parameters: [Parameter]) {
        for p in parameters {
            guard p.isTrainable, let gradient = p.gradient else { continue }
            defer { p.gradient = nil }
            let settings = groups[p.group] ?? ParameterGroupSettings()
            let lr = learningRate * settings.learningRateScale
            guard lr != 0 else { continue }
            let decay = settings.weightDecay ?? weightDecay
            switch p.value.dtype {
            case .float32: update(Float.self, p, gradient, lr: lr, decay: decay)
            case .float64: update(Double.self, p, gradient, lr: lr, decay: decay)
            }
        }
    }

    private mutating func update<T: KernelScalar>(_: T.Type, _ p: Parameter, _ gradient: Tensor, lr: Double, decay: Double) {
        let isFirst = velocity[p.name] == nil
        var v = velocity[p.name] ?? Tensor(zeros: p.value.shape, dtype: p.value.dtype, layout: p.value.layout)
        velocity[p.name] = nil   // keep v uniquely referenced so the update is in place
        let g = gradient.scalars(T.self)
        let mu = T(momentum), wd = T(decay), rate = T(lr)
        v.withUnsafeMutableBufferPointer(as: T.self) { pv in
            p.value.withUnsafeMutableBufferPointer(as: T.self) { pw in
                for i in 0..<pw.count {
                    let d = g[i] + wd * pw[i]
                    pv[i] = isFirst ? d : mu * pv[i] + d
                    pw[i] -= rate * pv[i]
                }
            }
        }
        velocity[p.name] = v
    }

    /// Drops all gradients without updating (e.g. after a pass that only measured).
    public static func zeroGradients(_ parameters: [Parameter]) {
        for p in parameters { p.gradient = nil }
    }
}
