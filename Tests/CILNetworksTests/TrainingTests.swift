import CILNetworks
import Testing

@Suite(.serialized) struct TrainingTests {
    /// A small batch of 8×8 images in 4 classes, learnable by construction.
    static func batch(dtype: DType = .float32) -> (Tensor, [Int32]) {
        let labels: [Int32] = (0..<16).map { Int32($0 % 4) }
        var stream = RandomStream(seed: 9, purpose: "test.overfit")
        var values: [Double] = []
        for label in labels {
            for _ in 0..<(8 * 8) {
                for c in 0..<3 { values.append(stream.nextNormal() * 0.5 + (Int(label) == c ? 1 : 0) - (label == 3 ? 0.8 : 0)) }
            }
        }
        return (Tensor(shape: [16, 8, 8, 3], scalars: values, layout: .nhwc).converted(to: dtype), labels)
    }

    static func train(steps: Int, dual: Bool) throws -> (accuracy: Double, digest: UInt64) {
        let engine = try ComputeEngine(threads: 2)
        let base = ResNet(.resnet32, seed: 11)
        let backbone: any Backbone = dual ? AANetsBackbone(phaseZero: base) : base
        let network = Network(backbone: backbone, head: CosineLinearHead(featureDimension: 64, classes: 4, seed: 11))
        var sgd = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 5e-4)
        let (images, labels) = batch()
        for _ in 0..<steps {
            let g = Graph(engine: engine)
            let out = try network.forward(g, images: g.constant(images), mode: .training)
            try g.backward(from: g.crossEntropy(out.logits, labels: labels))
            sgd.step(network.parameters)
        }
        let g = Graph(engine: engine, recordsGradients: false)
        let logits = try g[network.forward(g, images: g.constant(images), mode: .training).logits]
        let (_, predicted) = engine.reduceMax(logits, axis: 1)
        let correct = zip(predicted, labels).filter { $0.0 == $0.1 }.count
        return (Double(correct) / Double(labels.count), parameterDigest(network.parameters))
    }

    @Test func overfitsASmallBatchAndIsDeterministic() throws {
        let first = try Self.train(steps: 40, dual: false)
        print("ResNet-32 after 40 steps on 16 images: training accuracy \(first.accuracy), parameter digest \(Digest.hex(first.digest))")
        #expect(first.accuracy == 1.0)
        let second = try Self.train(steps: 40, dual: false)
        #expect(first.digest == second.digest)
    }

    @Test func aanetsOverfitsAndIsDeterministic() throws {
        let first = try Self.train(steps: 30, dual: true)
        #expect(first.accuracy == 1.0)
        #expect(try Self.train(steps: 30, dual: true).digest == first.digest)
    }
}
