import CILData
import CILMethods

/// Runs a network in evaluation mode over dataset images with the test transform and
/// collects pooled features and logits, batch by batch in index order.
struct FeatureExtractor {
    let engine: ComputeEngine
    let assembler: BatchAssembler
    let batchSize: Int

    /// Pooled features [n, D] and logits [n, C] of the images at `indices`.
    func run(_ network: Network, indices: [Int]) throws -> (features: Tensor, logits: Tensor) {
        var features: [Float] = [], logits: [Float] = []
        var featureDimension = network.backbone.featureDimension, classes = network.head.classCount
        var start = 0
        while start < indices.count {
            let chunk = Array(indices[start..<min(start + batchSize, indices.count)])
            let batch = try assembler.assemble(indices: chunk, phase: 0, epoch: 0)
            let g = Graph(engine: engine, recordsGradients: false)
            let out = try network.forward(g, images: g.constant(batch.images), mode: .evaluation)
            let f = g[out.features.pooled], l = g[out.logits]
            featureDimension = f.shape[1]
            classes = l.shape[1]
            features += f.floats
            logits += l.floats
            start += batchSize
        }
        return (Tensor(shape: [indices.count, featureDimension], scalars: features),
                Tensor(shape: [indices.count, classes], scalars: logits))
    }
}

/// Features of training images per class, for methods that imprint new class vectors.
/// Only the training split is reachable from here.
final class ClassFeatureSource: TrainingFeatureSource {
    let extractor: FeatureExtractor
    let network: Network
    let indicesOfPosition: (Int) -> [Int]

    init(extractor: FeatureExtractor, network: Network, indicesOfPosition: @escaping (Int) -> [Int]) {
        self.extractor = extractor
        self.network = network
        self.indicesOfPosition = indicesOfPosition
    }

    func features(ofClass position: Int) throws -> Tensor {
        try extractor.run(network, indices: indicesOfPosition(position)).features
    }
}
