/// Plain fine-tuning, the lower bound: each phase trains on the new classes alone with
/// cross-entropy over all seen classes, keeps no exemplars and does nothing to remember.
public final class FineTuning: IncrementalMethod {
    public static let name = "finetune"
    public static let summary = "lower bound: cross-entropy on new classes only, no memory"
    public static let settingKeys = ["head"]

    let head: HeadKind

    public init(settings: MethodSettings) throws {
        head = try HeadKind(settings)
    }

    public var resolvedSettings: [String: String] { ["head": head.rawValue] }
    public var usesExemplars: Bool { false }

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
