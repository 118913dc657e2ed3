/// Joint training on every seen class's full training data, the upper bound.
public final class JointTraining: IncrementalMethod {
    public static let name = "joint"
    public static let summary = "upper bound: cross-entropy on all training data of all seen classes"
    public static let settingKeys = ["head"]

    let head: HeadKind

    public init(settings: MethodSettings) throws {
        head = try HeadKind(settings)
    }

    public var resolvedSettings: [String: String] { ["head": head.rawValue] }
    public var usesExemplars: Bool { false }
    public var trainingData: TrainingData { .allSeenClasses }

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
