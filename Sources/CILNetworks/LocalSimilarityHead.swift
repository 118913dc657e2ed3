/// PODNet's local similarity classifier (LSC; [POD]
/// `inclearn/lib/network/classifiers.py` `CosineClassifier` with `proxy_per_class: 10`,
/// `distance: neg_stable_cosine_distance`, `merging: softmax`, `gamma: 1`).
///
/// Each class c owns K proxies θ_{c,k}. With ĥ and θ̂ the L2-normalised feature and proxy,
///   s_{c,k} = −‖ĥ − θ̂_{c,k}‖² = 2·cos(h, θ_{c,k}) − 2   (`distance.py` stable_cosine_distance)
///   ŝ_c     = Σ_k softmax_k(γ·s_{c,k}) · s_{c,k}          (`_reduce_proxies`, "softmax")
/// The head returns ŝ (the code's "logits"); the learned scale η (the code's
/// `postprocessor_config: learned_scaling`, init 1) belongs to the head so that it is saved
/// with it, but only the NCA loss applies it — argmax, hence CNN accuracy, ignores it.
/// η trains in every phase at the run's rate and weight decay (the `postprocessing` group
/// of `BasicNet.get_group_parameters`), but not in the classifier-only finetuning.
///
/// Proxies are stored class-major, one block per phase ([C_i·K, D]), like the code's
/// `_weights` ParameterList, so a phase's old blocks can be frozen as a whole.
public final class LocalSimilarityHead {
    public private(set) var proxies: [Parameter]
    /// η: the NCA's learned scale.
    public let scale: Parameter
    public let proxiesPerClass: Int
    /// γ of the softmax over a class's proxies (1 in every PODNet config).
    public let gamma: Double

    init(proxies: [Parameter], scale: Parameter, proxiesPerClass: Int, gamma: Double) {
        self.proxies = proxies
        self.scale = scale
        self.proxiesPerClass = proxiesPerClass
        self.gamma = gamma
    }

    /// Phase-0 head: K·classes proxies drawn as `nn.init.kaiming_normal_(w, nonlinearity=
    /// "linear")` (`add_classes`), i.e. N(0, 1/D) for a [K·C, D] matrix (fan-in D).
    public init(featureDimension: Int, classes: Int, proxiesPerClass: Int = 10, gamma: Double = 1, initialScale: Double = 1, seed: UInt64) {
        precondition(proxiesPerClass >= 1 && classes >= 1 && featureDimension >= 1)
        self.proxiesPerClass = proxiesPerClass
        self.gamma = gamma
        scale = Parameter(name: "head.scale", value: Tensor(filled: initialScale, shape: [1]), group: "scale")
        proxies = [Self.normalProxies(name: "head.proxies0", rows: classes * proxiesPerClass, featureDimension: featureDimension, seed: seed)]
    }

    static func normalProxies(name: String, rows: Int, featureDimension: Int, seed: UInt64) -> Parameter {
        var stream = RandomStream(seed: seed, purpose: "init.lsc_head." + name)
        let std = 1 / Double(featureDimension).squareRoot()
        let values = (0..<(rows * featureDimension)).map { _ in Float(stream.nextNormal() * std) }
        return Parameter(name: name + ".weight", value: Tensor(shape: [rows, featureDimension], scalars: values))
    }

    public var featureDimension: Int { proxies[0].value.shape[1] }
    public var classCount: Int { proxies.reduce(0) { $0 + $1.value.shape[0] } / proxiesPerClass }
    public var parameters: [Parameter] { proxies + [scale] }
    /// Classes per block (the checkpoint shape).
    public var blockClasses: [Int] { proxies.map { $0.value.shape[0] / proxiesPerClass } }

    public func copy() -> any ClassifierHead {
        LocalSimilarityHead(proxies: proxies.map { $0.copy() }, scale: scale.copy(), proxiesPerClass: proxiesPerClass, gamma: gamma)
    }

    /// Appends the proxies of new classes ([classes·K, D], class-major) as a new block.
    public func addClasses(proxies block: Tensor) {
        precondition(block.rank == 2 && block.shape[1] == featureDimension && block.shape[0] % proxiesPerClass == 0,
                     "proxy block \(block.shape) for K = \(proxiesPerClass), D = \(featureDimension)")
        proxies.append(Parameter(name: "head.proxies\(proxies.count).weight", value: block))
    }

    /// Appends `classes` classes of randomly drawn proxies (shape rebuilding for checkpoints).
    public func addRandomClasses(_ classes: Int, seed: UInt64) {
        proxies.append(Self.normalProxies(name: "head.proxies\(proxies.count)", rows: classes * proxiesPerClass, featureDimension: featureDimension, seed: seed))
    }

    /// Every proxy as one [C·K, D] tensor (float32), class-major.
    public var allProxies: Tensor {
        if proxies.count == 1 { return proxies[0].value }
        return Tensor(shape: [classCount * proxiesPerClass, featureDimension], scalars: proxies.flatMap { $0.value.floats })
    }

    /// Class scores ŝ [N, C] of pooled features [N, D], composed of differentiable ops.
    public func logits(_ g: Graph, features: Var) -> Var {
        let weights = proxies.count == 1 ? g.parameter(proxies[0]) : concatenateRows(g, proxies.map { g.parameter($0) })
        return Self.classScores(g, features: features, proxies: weights, proxiesPerClass: proxiesPerClass, gamma: gamma)
    }

    /// ŝ from features [N, D] and proxies [C·K, D] (class-major).
    public static func classScores(_ g: Graph, features: Var, proxies: Var, proxiesPerClass k: Int, gamma: Double) -> Var {
        let n = g[features].shape[0], classes = g[proxies].shape[0] / k
        let cosines = g.cosineSimilarity(features, proxies)                         // [N, C·K]
        // −‖ĥ − θ̂‖² = 2·cos − 2 for unit vectors (the code's clamp at 0 is then a no-op up to rounding).
        let twos = g.constant(Tensor(filled: -2, shape: g[cosines].shape, dtype: g[cosines].dtype))
        let similarities = g.reshape(g.add(g.scale(cosines, by: 2), twos), [n * classes, k])
        let attention = g.softmax(gamma == 1 ? similarities : g.scale(similarities, by: gamma))
        let scores = g.sum(g.multiply(similarities, attention), axis: 1)            // [N·C]
        return g.reshape(scores, [n, classes])
    }
}

extension LocalSimilarityHead: ClassifierHead {
    public var structure: HeadStructure {
        .localSimilarity(featureDimension: featureDimension, proxiesPerClass: proxiesPerClass, blocks: blockClasses, gamma: gamma)
    }
}
