import CILMethods
import Testing

/// Features per class handed to imprinting, as the harness's feature source would.
struct FixedFeatures: TrainingFeatureSource {
    let byClass: [Int: Tensor]
    func features(ofClass position: Int) throws -> Tensor {
        guard let t = byClass[position] else { throw MethodError.unsupported("no features for class \(position)") }
        return t
    }
}

@Suite struct CosineHeadGrowthTests {
    /// Features (3, 0) and (0, 1) normalise to e1, e2; their mean's direction is (1, 1)/√2,
    /// rescaled to the requested norm: each feature counts once whatever its length.
    @Test func imprintedVectorIsNormalisedMeanOfNormalisedFeatures() throws {
        let v = try CosineHeadGrowth.imprintedVector(classFeatures: Tensor(shape: [2, 2], scalars: [3.0, 0, 0, 1]), norm: 2)
        #expect(abs(v[0] - 2.0.squareRoot()) < 1e-12 && abs(v[1] - 2.0.squareRoot()) < 1e-12)
        #expect(throws: MethodError.self) { try CosineHeadGrowth.imprintedVector(classFeatures: Tensor(zeros: [0, 2]), norm: 1) }
    }

    /// Growing a 2-class head by 2 classes: old block frozen and untouched, new block's rows
    /// of norm ‖w_old‖_avg pointing along each class's normalised mean feature.
    @Test func growFreezesOldVectorsAndImprintsNewOnes() throws {
        let d = 64
        let head = CosineLinearHead(featureDimension: d, classes: 2, seed: 5)
        let network = Network(backbone: ResNet(.resnet32, seed: 1), head: head)
        let old = head.allWeights
        var stream = RandomStream(seed: 9, purpose: "test.features")
        let features = Dictionary(uniqueKeysWithValues: [2, 3].map { c in (c, Tensor(shape: [6, d], scalars: (0..<(6 * d)).map { _ in Float(stream.nextNormal()) + (c == 2 ? 1 : -1) })) })
        let context = PhaseContext(phase: 1, phaseCount: 2, oldClasses: 2, newClasses: 2, epochs: 1, exemplarsPerClass: 5, seed: 1, engine: try ComputeEngine(threads: 1))
        try CosineHeadGrowth.grow(network, context: context, features: FixedFeatures(byClass: features))
        #expect(head.classCount == 4 && head.weights.count == 2)
        #expect(!head.weights[0].isTrainable && head.weights[1].isTrainable)
        #expect(head.weights[0].value.floats == old.floats)
        let oldNorm = CosineHeadGrowth.meanRowNorm(old)
        let new = head.weights[1].value.doubles
        for (row, c) in [2, 3].enumerated() {
            let vector = Array(new[(row * d)..<((row + 1) * d)])
            let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
            #expect(abs(norm - oldNorm) < 1e-5)
            let expected = try CosineHeadGrowth.imprintedVector(classFeatures: features[c]!, norm: oldNorm)
            #expect(zip(vector, expected).allSatisfy { abs($0 - $1) < 1e-6 })
        }
    }
}
