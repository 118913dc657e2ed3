import CILNetworks
import Testing

@Suite struct ModelTests {
    @Test func resnet32HasTheReferenceParameterCount() throws {
        let net = ResNet(.resnet32, seed: 0)
        let learnable = net.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count }
        #expect(learnable == 466_256)
        // The anchor's 472,756 = 466,256 + a 64→100 linear head with bias.
        #expect(learnable + LinearHead(featureDimension: 64, classes: 100, seed: 0).parameters.reduce(0) { $0 + $1.value.count } == 472_756)
        let dual = AANetsBackbone(phaseZero: net)
        let scales = dual.stable.parameters.filter { $0.name.hasSuffix(".scales") }.reduce(0) { $0 + $1.value.count }
        #expect(scales == 53_808)       // one per (out, in) kernel pair ([AAN] conv2d_mtl.py)
        #expect(dual.alphas.count == 3 && dual.alphas.allSatisfy { $0.value.scalarValue == 0.5 })
    }

    @Test func resnet18HasTheReferenceParameterCount() throws {
        let net = ResNet(.resnet18, seed: 0)
        let learnable = net.parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count }
        // 11.18 M with a 1000-way head ([AAN] `models/modified_resnet.py`): backbone 11,176,512 +
        // 512·1000 cosine weights… the torchvision ResNet-18 backbone without fc has 11,176,512
        // parameters.
        #expect(learnable == 11_176_512)
        #expect(AANetsBackbone(phaseZero: net).alphas.count == 4)
    }

    @Test func shapesThroughTheNetworks() throws {
        let engine = try ComputeEngine(threads: 2)
        let g = Graph(engine: engine, recordsGradients: false)
        let net = ResNet(.resnet32, seed: 1)
        let f = try net.features(g, g.constant(randomTensor([2, 32, 32, 3], seed: 1, dtype: .float32, layout: .nhwc)), mode: .evaluation)
        #expect(f.stages.map { g[$0].shape } == [[2, 32, 32, 16], [2, 16, 16, 32], [2, 8, 8, 64]])
        #expect(g[f.pooled].shape == [2, 64])
        let r18 = ResNet(.resnet18, seed: 1)
        let f18 = try r18.features(g, g.constant(randomTensor([1, 64, 64, 3], seed: 2, dtype: .float32, layout: .nhwc)), mode: .evaluation)
        #expect(f18.stages.map { g[$0].shape } == [[1, 16, 16, 64], [1, 8, 8, 128], [1, 4, 4, 256], [1, 2, 2, 512]])
    }

    @Test func lastBlockHasNoReLU() throws {
        let engine = try ComputeEngine(threads: 2)
        let g = Graph(engine: engine, recordsGradients: false)
        let f = try ResNet(.resnet32, seed: 2).features(g, g.constant(randomTensor([4, 16, 16, 3], seed: 3, dtype: .float32, layout: .nhwc)), mode: .training)
        #expect(g[f.stages[2]].floats.contains { $0 < 0 })   // the 64-d feature may be negative
        #expect(!g[f.stages[1]].floats.contains { $0 < 0 })
    }
}
