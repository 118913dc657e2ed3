import CILNetworks
import Testing

/// Whole-network gradient checks: the reference float64 backward of ResNet-32 and of the
/// AANets dual-branch network against float64 central differences, and the fast float32
/// backward against the float64 one.
@Suite(.serialized) struct NetworkGradientTests {
    /// A loss that touches the logits (cosine head with σ), an intermediate stage map and
    /// the pooled feature, so gradients flow through every path methods use.
    static func loss(_ g: Graph, _ network: Network, images: Tensor, labels: [Int32]) throws -> Var {
        let out = try network.forward(g, images: g.constant(images), mode: .training)
        let ce = g.crossEntropy(out.logits, labels: labels)
        let stage = g.scale(g.mean(g.square(out.features.stages[1])), by: 0.1)
        let feature = g.scale(g.sum(g.abs(out.features.pooled)), by: 0.01)
        return g.add(g.add(ce, stage), feature)
    }

    static func check(_ network: Network, label: String, coordinates: Int) throws {
        let engine = try ComputeEngine(threads: 2)
        network.parameters.convert(to: .float64)
        let images = randomTensor([2, 8, 8, 3], seed: 21, layout: .nhwc)
        let labels: [Int32] = [1, 3]
        func evaluate() throws -> Double {
            let g = Graph(engine: engine, recordsGradients: false)
            return try g[loss(g, network, images: images, labels: labels)].scalarValue
        }
        SGD.zeroGradients(network.parameters)
        let g = Graph(engine: engine)
        try g.backward(from: loss(g, network, images: images, labels: labels))
        var worst = 0.0
        var analytic: [Double] = [], numeric: [Double] = []
        var nearKinks = 0
        func centralDifference(_ p: Parameter, _ i: Int, _ eps: Double) throws -> Double {
            perturb(p, i, by: eps)
            let plus = try evaluate()
            perturb(p, i, by: -2 * eps)
            let minus = try evaluate()
            perturb(p, i, by: eps)
            return (plus - minus) / (2 * eps)
        }
        for (p, i) in sampledCoordinates(network.parameters, count: coordinates, seed: 5) {
            // ReLU and |x| have kinks; a coordinate whose difference quotient changes with the
            // step size has one inside the interval, where no finite difference is meaningful.
            let coarse = try centralDifference(p, i, 1e-6), fine = try centralDifference(p, i, 1e-7)
            if abs(coarse - fine) > 1e-5 * max(abs(fine), 1e-2) {
                nearKinks += 1
                continue
            }
            let a = p.gradient?.doubles[i] ?? 0
            analytic.append(a)
            numeric.append(coarse)
            worst = max(worst, abs(a - coarse) / max(abs(coarse), 1e-3))
        }
        print("\(label): \(nearKinks) of \(coordinates) coordinates skipped as next to a kink")
        #expect(nearKinks <= coordinates / 10)
        let overall = relativeError(analytic, numeric)
        print("\(label) float64 gradient check over \(coordinates) coordinates: worst per-coordinate error \(worst), max|err|/max|ref| \(overall)")
        #expect(overall < 1e-6)
        #expect(worst < 1e-4)
    }

    @Test func resnet32MatchesFiniteDifferences() throws {
        let network = Network(backbone: ResNet(.resnet32, seed: 3), head: CosineLinearHead(featureDimension: 64, classes: 5, seed: 3))
        try Self.check(network, label: "ResNet-32", coordinates: 40)
    }

    @Test func aanetsMatchesFiniteDifferences() throws {
        let base = ResNet(.resnet32, seed: 4)
        let dual = AANetsBackbone(phaseZero: base, initialAlpha: 0.3)
        // Let the two branches differ, as they do after training, so α's gradient is not ~0.
        for p in dual.plastic.parameters where p.isTrainable { perturb(p, 0, by: 0.5) }
        let network = Network(backbone: dual, head: CosineLinearHead(featureDimension: 64, classes: 5, seed: 4))
        try Self.check(network, label: "AANets ResNet-32", coordinates: 40)
        // The α, the stable scales and the stable BN learn; the stable kernels do not.
        let scales = dual.stable.parameters.filter { $0.name.hasSuffix(".scales") }
        #expect(!scales.isEmpty && scales.allSatisfy { $0.gradient != nil })
        #expect(dual.alphas.allSatisfy { $0.gradient != nil && $0.gradient!.scalarValue != 0 })
        #expect(dual.stable.parameters.filter { $0.name.hasSuffix("conv.weight") || $0.name.hasSuffix("conv1.weight") }.allSatisfy { !$0.isTrainable && $0.gradient == nil })
    }

    @Test func fastFloat32GradientsMatchFloat64() throws {
        let engine = try ComputeEngine(threads: 2)
        let seedNetwork = { Network(backbone: AANetsBackbone(phaseZero: ResNet(.resnet32, seed: 6)), head: CosineLinearHead(featureDimension: 64, classes: 10, seed: 6)) }
        let fast = seedNetwork(), exact = seedNetwork()
        exact.parameters.convert(to: .float64)
        let images = randomTensor([4, 16, 16, 3], seed: 22, layout: .nhwc)
        let labels: [Int32] = [0, 9, 4, 4]
        for (network, input) in [(fast, images.converted(to: .float32)), (exact, images)] {
            let g = Graph(engine: engine)
            try g.backward(from: Self.loss(g, network, images: input, labels: labels))
        }
        var worst = 0.0
        for (a, b) in zip(fast.parameters, exact.parameters) where b.gradient != nil {
            worst = max(worst, relativeError(a.gradient!.doubles, b.gradient!.doubles))
        }
        print("AANets ResNet-32 fast float32 vs float64 gradients: worst max|err|/max|ref| per parameter \(worst)")
        #expect(worst < 2e-3)
    }
}
