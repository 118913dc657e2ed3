/// Classifier heads over pooled features. Both grow by whole classes between phases; old
/// class vectors can be frozen through their optimiser group.

/// LUCIR's cosine-normalised linear layer: logits = σ · cos(feature, w_c), σ learnable.
public final class CosineLinearHead {
    /// One weight matrix per phase, so old-class vectors can be frozen as a whole.
    public private(set) var weights: [Parameter]
    public let sigma: Parameter?

    init(weights: [Parameter], sigma: Parameter?) {
        self.weights = weights
        self.sigma = sigma
    }

    public func copy() -> any ClassifierHead {
        CosineLinearHead(weights: weights.map { $0.copy() }, sigma: sigma?.copy())
    }

    public init(featureDimension: Int, classes: Int, learnableSigma: Bool = true, seed: UInt64) {
        weights = []
        sigma = learnableSigma ? Parameter(name: "head.sigma", value: Tensor(filled: 1, shape: [1]), group: "sigma") : nil
        weights.append(Self.uniformWeights(name: "head.fc0", classes: classes, featureDimension: featureDimension, seed: seed))
    }

    /// Uniform(±1/√D), the reference code's reset_parameters.
    static func uniformWeights(name: String, classes: Int, featureDimension: Int, seed: UInt64) -> Parameter {
        var stream = RandomStream(seed: seed, purpose: "init.cosine_head." + name)
        let bound = 1 / Double(featureDimension).squareRoot()
        let values = (0..<(classes * featureDimension)).map { _ in Float((stream.nextDouble() * 2 - 1) * bound) }
        return Parameter(name: name + ".weight", value: Tensor(shape: [classes, featureDimension], scalars: values))
    }

    public var classCount: Int { weights.reduce(0) { $0 + $1.value.shape[0] } }
    public var parameters: [Parameter] { weights + (sigma.map { [$0] } ?? []) }

    /// Appends vectors for new classes (e.g. imprinted ones) as a new weight block.
    public func addClasses(_ vectors: Tensor) {
        precondition(vectors.rank == 2 && vectors.shape[1] == weights[0].value.shape[1])
        weights.append(Parameter(name: "head.fc\(weights.count).weight", value: vectors))
    }

    /// Appends `count` new class vectors drawn as at initialisation.
    public func addRandomClasses(_ count: Int, seed: UInt64) {
        let block = Self.uniformWeights(name: "head.fc\(weights.count)", classes: count, featureDimension: weights[0].value.shape[1], seed: seed)
        weights.append(block)
    }

    /// All class vectors as one [C, D] tensor.
    public var allWeights: Tensor {
        if weights.count == 1 { return weights[0].value }
        let d = weights[0].value.shape[1]
        return Tensor(shape: [classCount, d], scalars: weights.flatMap { $0.value.floats })
    }

    public func logits(_ g: Graph, features: Var) -> Var {
        let all = weights.count == 1 ? g.parameter(weights[0]) : concatenateRows(g, weights.map { g.parameter($0) })
        let cosine = g.cosineSimilarity(features, all)
        guard let sigma else { return cosine }
        return g.scale(cosine, byScalar: g.parameter(sigma))
    }
}

/// A plain fully connected layer with bias (LwF/iCaRL-style heads, the PyTorch default init).
public final class LinearHead {
    public let weight: Parameter
    public let bias: Parameter

    public init(featureDimension: Int, classes: Int, seed: UInt64) {
        var stream = RandomStream(seed: seed, purpose: "init.linear_head")
        let bound = 1 / Double(featureDimension).squareRoot()
        weight = Parameter(name: "head.weight", value: Tensor(shape: [classes, featureDimension], scalars: (0..<(classes * featureDimension)).map { _ in Float((stream.nextDouble() * 2 - 1) * bound) }))
        bias = Parameter(name: "head.bias", value: Tensor(shape: [classes], scalars: (0..<classes).map { _ in Float((stream.nextDouble() * 2 - 1) * bound) }))
    }

    init(weight: Parameter, bias: Parameter) {
        self.weight = weight
        self.bias = bias
    }

    public func copy() -> any ClassifierHead { LinearHead(weight: weight.copy(), bias: bias.copy()) }

    /// A head with `count` more classes: the old rows kept, new rows drawn as at initialisation.
    public func grown(by count: Int, seed: UInt64) -> LinearHead {
        let d = weight.value.shape[1], old = weight.value.shape[0]
        let fresh = LinearHead(featureDimension: d, classes: count, seed: seed)
        return LinearHead(
            weight: Parameter(name: weight.name, value: Tensor(shape: [old + count, d], scalars: weight.value.floats + fresh.weight.value.floats)),
            bias: Parameter(name: bias.name, value: Tensor(shape: [old + count], scalars: bias.value.floats + fresh.bias.value.floats)))
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func logits(_ g: Graph, features: Var) -> Var {
        g.linear(features, weight: g.parameter(weight), bias: g.parameter(bias))
    }
}

/// Stacks [n_i, D] values into [Σn_i, D], routing gradients back to each piece.
public func concatenateRows(_ g: Graph, _ parts: [Var]) -> Var {
    let tensors = parts.map { g[$0] }
    let columns = tensors[0].shape[1]
    let rows = tensors.map { $0.shape[0] }
    var scalars: [Double] = []
    scalars.reserveCapacity(rows.reduce(0, +) * columns)
    for t in tensors { scalars += t.doubles }
    let joined = tensors[0].dtype == .float32
        ? Tensor(shape: [rows.reduce(0, +), columns], scalars: scalars.map(Float.init))
        : Tensor(shape: [rows.reduce(0, +), columns], scalars: scalars)
    return g.record(joined, inputs: parts) { g, dy in
        let values = dy.doubles
        var offset = 0
        for (part, n) in zip(parts, rows) {
            let slice = Array(values[(offset * columns)..<((offset + n) * columns)])
            g.accumulate(part, dy.dtype == .float32 ? Tensor(shape: [n, columns], scalars: slice.map(Float.init)) : Tensor(shape: [n, columns], scalars: slice))
            offset += n
        }
    }
}
