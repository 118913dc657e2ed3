/// Heads the simple methods share: which kind, how it grows, and plain cross-entropy.
public enum HeadKind: String, Sendable {
    case cosine, linear

    /// Reads the `head` setting (default cosine, as LUCIR and AANets use).
    public init(_ settings: MethodSettings) throws {
        self = HeadKind(rawValue: try settings.string("head", default: "cosine", allowed: ["cosine", "linear"])) ?? .cosine
    }

    public func make(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        switch self {
        case .cosine: CosineLinearHead(featureDimension: featureDimension, classes: classes, seed: seed)
        case .linear: LinearHead(featureDimension: featureDimension, classes: classes, seed: seed)
        }
    }
}

/// What the two bounds share: a cosine or linear head grown with random vectors, no memory,
/// plain cross-entropy. They differ only in the data they train on.
public class CrossEntropyBound {
    let head: HeadKind

    public required init(settings: MethodSettings) throws {
        head = try HeadKind(settings)
    }

    public var resolvedSettings: [String: String] { ["head": head.rawValue] }
    public var usesExemplars: Bool { false }
    public var trainingData: TrainingData { .newClassesAndExemplars }
    public var phaseZeroSignature: String { head == .cosine ? cosineCrossEntropyPhaseZero : "cross-entropy+linear-head" }

    public func makeHead(featureDimension: Int, classes: Int, seed: UInt64) -> any ClassifierHead {
        head.make(featureDimension: featureDimension, classes: classes, seed: seed)
    }

    public func beginPhase(_ context: PhaseContext, network: Network, newClassFeatures: any TrainingFeatureSource) throws {
        try growHead(network, by: context.newClasses, seed: context.seed &+ UInt64(context.phase))
    }

    public func loss(_ g: Graph, network: Network, batch: TrainingBatch, context: PhaseContext) throws -> Var {
        try crossEntropyLoss(g, network: network, batch: batch)
    }
}

/// Mean cross-entropy of the network's logits over all seen classes.
public func crossEntropyLoss(_ g: Graph, network: Network, batch: TrainingBatch) throws -> Var {
    let out = try network.forward(g, images: g.constant(batch.images), mode: .training)
    return g.crossEntropy(out.logits, labels: batch.labels)
}

/// Adds `count` randomly initialised class vectors to a cosine or linear head.
func growHead(_ network: Network, by count: Int, seed: UInt64) throws {
    switch network.head {
    case let cosine as CosineLinearHead:
        cosine.addRandomClasses(count, seed: seed)
    case let linear as LinearHead:
        network.head = linear.grown(by: count, seed: seed)
    default:
        throw MethodError.unsupported("cannot grow a head of type \(type(of: network.head))")
    }
}
