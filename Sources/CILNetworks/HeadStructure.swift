/// The shape of a classifier head, enough to rebuild it empty and load its values by name
/// (checkpoints and resumed runs).
public enum HeadStructure: Sendable, Codable, Equatable {
    case cosine(featureDimension: Int, blocks: [Int], learnableSigma: Bool)
    case linear(featureDimension: Int, classes: Int)
    /// PODNet's LSC head: K proxies per class, one block of classes per phase.
    case localSimilarity(featureDimension: Int, proxiesPerClass: Int, blocks: [Int], gamma: Double)

    /// An untrained head of this shape (values are meant to be overwritten).
    public func makeHead() -> any ClassifierHead {
        switch self {
        case .cosine(let d, let blocks, let learnableSigma):
            let head = CosineLinearHead(featureDimension: d, classes: blocks[0], learnableSigma: learnableSigma, seed: 0)
            for size in blocks.dropFirst() { head.addRandomClasses(size, seed: 0) }
            return head
        case .linear(let d, let classes):
            return LinearHead(featureDimension: d, classes: classes, seed: 0)
        case .localSimilarity(let d, let k, let blocks, let gamma):
            let head = LocalSimilarityHead(featureDimension: d, classes: blocks[0], proxiesPerClass: k, gamma: gamma, seed: 0)
            for size in blocks.dropFirst() { head.addRandomClasses(size, seed: 0) }
            return head
        }
    }
}

extension CosineLinearHead {
    public var structure: HeadStructure {
        .cosine(featureDimension: weights[0].value.shape[1], blocks: weights.map { $0.value.shape[0] }, learnableSigma: sigma != nil)
    }
}

extension LinearHead {
    public var structure: HeadStructure { .linear(featureDimension: weight.value.shape[1], classes: weight.value.shape[0]) }
}
