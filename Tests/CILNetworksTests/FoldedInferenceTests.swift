import CILNetworks
import Testing

/// Evaluation without gradients folds each BN into its convolution; the result must be the
/// same function as the unfolded conv → BN → add → ReLU with running statistics.
@Suite struct FoldedInferenceTests {
    static func randomizeStatistics(_ parameters: [Parameter]) {
        var stream = RandomStream(seed: 5, purpose: "test.bn_statistics")
        for p in parameters where p.name.hasSuffix("running_mean") || p.name.hasSuffix("running_var") || p.name.hasSuffix("gamma") || p.name.hasSuffix("beta") {
            let positive = p.name.hasSuffix("running_var") || p.name.hasSuffix("gamma")
            p.value = Tensor(shape: p.value.shape, scalars: (0..<p.value.count).map { _ in
                Float(positive ? 0.5 + stream.nextDouble() : stream.nextDouble() - 0.5)
            })
        }
    }

    @Test(arguments: [false, true])
    func foldedEqualsUnfolded(aanets: Bool) throws {
        let engine = try ComputeEngine(threads: 2)
        let plain = ResNet(.resnet32, seed: 8)
        let backbone: any Backbone = aanets ? AANetsBackbone(phaseZero: plain) : plain
        let network = Network(backbone: backbone, head: CosineLinearHead(featureDimension: 64, classes: 10, seed: 8))
        Self.randomizeStatistics(network.parameters)
        let images = randomTensor([6, 16, 16, 3], seed: 9, dtype: .float32, layout: .nhwc)
        let folded = Graph(engine: engine, recordsGradients: false)
        let unfolded = Graph(engine: engine, recordsGradients: true)   // gradients wanted: the plain path
        let a = try network.forward(folded, images: folded.constant(images), mode: .evaluation)
        let b = try network.forward(unfolded, images: unfolded.constant(images), mode: .evaluation)
        for (x, y) in zip(a.features.stages, b.features.stages) {
            let error = relativeError(folded[x].doubles, unfolded[y].doubles)
            #expect(error < 1e-4, "stage error \(error)")
        }
        let error = relativeError(folded[a.logits].doubles, unfolded[b.logits].doubles)
        print("folded vs unfolded evaluation (\(aanets ? "AANets" : "ResNet-32")): logits max|err|/max|ref| \(error)")
        #expect(error < 1e-4)
    }
}
