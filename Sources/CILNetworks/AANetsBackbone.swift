/// AANets' adaptive aggregation network: every level k has a stable block S_k (phase-0
/// kernels frozen, times learnable per-kernel scales; BN learnable) and a plastic block P_k
/// (fully trainable), mixed as x_k = α_k·S_k(x_{k−1}) + (1 − α_k)·P_k(x_{k−1}). The mixed
/// map feeds both blocks of the next level; the pooled mixed feature goes to one head.
public final class AANetsBackbone: Backbone {
    public let stable: ResNet
    public let plastic: ResNet
    /// One raw scalar per level (no softmax), initialised to 0.5, carried across phases.
    public let alphas: [Parameter]

    public init(stable: ResNet, plastic: ResNet, alphas: [Parameter]) {
        precondition(stable.levels.count == plastic.levels.count && alphas.count == stable.levels.count)
        self.stable = stable
        self.plastic = plastic
        self.alphas = alphas
    }

    /// Builds both branches from the phase-0 network, as AANets does when phase 1 starts.
    public convenience init(phaseZero network: ResNet, initialAlpha: Double = 0.5) {
        let stable = network.clone(.prefixed("stable.", stableConvolutions: true))
        let plastic = network.clone(.prefixed("plastic."))
        let alphas = (0..<network.levels.count).map {
            Parameter(name: "aggregation.alpha\($0 + 1)", value: Tensor(filled: initialAlpha, shape: [1], dtype: network.parameters[0].value.dtype), group: "alpha")
        }
        self.init(stable: stable, plastic: plastic, alphas: alphas)
    }

    public var parameters: [Parameter] { stable.parameters + plastic.parameters + alphas }
    public var featureDimension: Int { stable.featureDimension }

    public func features(_ g: Graph, _ images: Var, mode: Mode) throws -> BackboneFeatures {
        var h = images
        var stages: [Var] = []
        for k in stable.levels.indices {
            let s = try stable.levels[k].forward(g, h, mode: mode)
            let p = try plastic.levels[k].forward(g, h, mode: mode)
            // Both branches give the same layout (same widths); the mixed map stays in it for
            // the next level, and methods see it in NHWC.
            h = g.aggregate(stable: s, plastic: p, alpha: g.parameter(alphas[k]))
            stages.append(try g.reordered(h, to: .nhwc))
        }
        return BackboneFeatures(stages: stages, pooled: g.globalAveragePool(stages[stages.count - 1]))
    }

    /// A deep copy (the frozen teacher of the next phase keeps its own α).
    public func clone(_ spec: CloneSpec = CloneSpec()) -> AANetsBackbone {
        AANetsBackbone(stable: stable.clone(spec), plastic: plastic.clone(spec), alphas: alphas.map { $0.copy(name: spec.rename($0.name)) })
    }

    public func copy(_ spec: CloneSpec) -> any Backbone { clone(spec) }
}
