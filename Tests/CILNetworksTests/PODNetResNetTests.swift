import CILNetworks
import Testing

/// PODNet's CIFAR ResNet-32: structure, initialisation, shapes,
/// float64 gradients, and its use as the phase-0 network of a 4-level POD-AANets.
@Suite(.serialized) struct PODNetResNetTests {
    static func learnableCount(_ parameters: [Parameter]) -> Int {
        parameters.filter(\.isTrainable).reduce(0) { $0 + $1.value.count }
    }

    /// Gives every zero-initialised residual γ a random value: with γ = 0 everything inside
    /// a residual branch gets an exactly zero gradient, which any check would pass.
    static func wakeResidualBranches(_ net: ResNet, seed: UInt64, range: ClosedRange<Double> = 0.5...1.5) {
        var stream = RandomStream(seed: seed, purpose: "test.residual_gamma")
        for p in net.parameters where p.name.hasSuffix(".bn2.gamma") {
            for i in 0..<p.value.count { perturb(p, i, by: range.lowerBound + (range.upperBound - range.lowerBound) * stream.nextDouble()) }
        }
    }

    @Test func parameterCountFromTheStructure() throws {
        // conv k×k cin→cout: k²·cin·cout weights; BN: γ and β per channel (running stats are buffers).
        // stem:    3·16·9 + 2·16                                       =     464
        // stage 1: 5 × (2·16·16·9 + 2·2·16)                 = 5 × 4,672  =  23,360
        // stage 2: (16·32·9 + 32·32·9 + 4·32) + 4 × (2·32·32·9 + 4·32)
        //          = 13,952 + 4 × 18,560                                 =  88,192
        // stage 3: (32·64·9 + 64·64·9 + 4·64) + 3 × (2·64·64·9 + 4·64)
        //          = 55,552 + 3 × 73,984                                 = 277,504
        // stage 4: 2·64·64·9 + 4·64                                      =  73,984
        // total (option-A shortcuts add nothing)                         = 463,504
        let net = ResNet(.podnetResNet32, seed: 0)
        #expect(Self.learnableCount(net.parameters) == 463_504)
        // 15 blocks × 2 convs + the stem conv = 31 convolutions, + the classifier = 32 layers.
        #expect(net.parameters.filter { $0.name.hasSuffix(".weight") }.count == 31)
        #expect(net.levels.map { $0.modules.count } == [2 + 5, 5, 4, 1])
    }

    @Test func residualBranchesStartAtZeroAndOnlyTheirLastBN() throws {
        let net = ResNet(.podnetResNet32, seed: 0)
        let gammas = net.parameters.filter { $0.name.hasSuffix(".gamma") }
        let zero = gammas.filter { $0.value.doubles.allSatisfy { $0 == 0 } }.map(\.name)
        #expect(zero.count == 15 && zero.allSatisfy { $0.hasSuffix(".bn2.gamma") })
        #expect(gammas.filter { !$0.name.hasSuffix(".bn2.gamma") }.allSatisfy { $0.value.doubles.allSatisfy { $0 == 1 } })
    }

    @Test func stageShapesAndPreReLUOutputs() throws {
        let engine = try ComputeEngine(threads: 2)
        let g = Graph(engine: engine, recordsGradients: false)
        let net = ResNet(.podnetResNet32, seed: 1)
        Self.wakeResidualBranches(net, seed: 1)
        let f = try net.features(g, g.constant(randomTensor([2, 32, 32, 3], seed: 1, dtype: .float32, layout: .nhwc)), mode: .training)
        #expect(f.stages.map { g[$0].shape } == [[2, 32, 32, 16], [2, 16, 16, 32], [2, 8, 8, 64], [2, 8, 8, 64]])
        #expect(g[f.pooled].shape == [2, 64] && net.featureDimension == 64)
        // No ReLU after any residual sum: every stage map, and the pooled feature the
        // classifier takes, has negative entries.
        for stage in f.stages { #expect(g[stage].floats.contains { $0 < 0 }) }
        #expect(g[f.pooled].floats.contains { $0 < 0 })
        // Odd sizes: the option-A shortcut keeps ceil(H/2) rows, as the stride-2 conv does.
        let odd = try net.features(g, g.constant(randomTensor([1, 9, 7, 3], seed: 2, dtype: .float32, layout: .nhwc)), mode: .evaluation)
        #expect(odd.stages.map { g[$0].shape } == [[1, 9, 7, 16], [1, 5, 4, 32], [1, 3, 2, 64], [1, 3, 2, 64]])
    }

    @Test func optionAShortcutMatchesFiniteDifferences() throws {
        let x = randomTensor([2, 5, 6, 3], seed: 30, layout: .nhwc)
        try GraphOpGradientTests().check("subsample and pad channels", [x]) { g, v in g.subsampleAndPadChannels(v[0], stride: 2, outChannels: 8) }
        try GraphOpGradientTests().check("identity-width subsample", [x]) { g, v in g.subsampleAndPadChannels(v[0], stride: 2, outChannels: 3) }
    }

    @Test func wholeNetworkMatchesFiniteDifferences() throws {
        let net = ResNet(.podnetResNet32, seed: 7)
        Self.wakeResidualBranches(net, seed: 7)
        try NetworkGradientTests.check(Network(backbone: net, head: CosineLinearHead(featureDimension: 64, classes: 5, seed: 7)),
                                       label: "PODNet ResNet-32", coordinates: 40)
    }

    @Test func podAANetsHasFourLevels() throws {
        let base = ResNet(.podnetResNet32, seed: 8)
        Self.wakeResidualBranches(base, seed: 8)
        let dual = AANetsBackbone(phaseZero: base)
        #expect(dual.alphas.count == 4)
        // One scale per (out, in) kernel of every convolution; option A adds none:
        // 3·16 + 5·2·16·16 + (16·32 + 32·32 + 4·2·32·32) + (32·64 + 64·64 + 3·2·64·64) + 2·64·64 = 51,248.
        #expect(dual.stable.parameters.filter { $0.name.hasSuffix(".scales") }.reduce(0) { $0 + $1.value.count } == 51_248)
        for p in dual.plastic.parameters where p.isTrainable { perturb(p, 0, by: 0.5) }
        let network = Network(backbone: dual, head: CosineLinearHead(featureDimension: 64, classes: 5, seed: 8))
        try NetworkGradientTests.check(network, label: "POD-AANets ResNet-32", coordinates: 24)
        #expect(dual.alphas.allSatisfy { $0.gradient != nil && $0.gradient!.scalarValue != 0 })
        let engine = try ComputeEngine(threads: 2)
        let g = Graph(engine: engine, recordsGradients: false)
        let f = try dual.features(g, g.constant(randomTensor([2, 16, 16, 3], seed: 3, layout: .nhwc)), mode: .evaluation)
        #expect(f.stages.map { g[$0].shape } == [[2, 16, 16, 16], [2, 8, 8, 32], [2, 4, 4, 64], [2, 4, 4, 64]])
    }
}

/// PODNet's ImageNet ResNet-18 ([POD] `inclearn/convnet/resnet.py`): 3×3 stride-1 stem, γ = 0
/// residual branches, a ReLU only after the first block of each stage.
@Suite(.serialized) struct PODNetResNet18Tests {
    @Test func parameterCountFromTheStructure() throws {
        // stem:   3·64·9 + 2·64                                                        =      1,856
        // layer1: 2 × (2·64·64·9 + 4·64)                                               =    147,968
        // layer2: (64·128·9 + 128·128·9 + 4·128 + 64·128 + 2·128) + (2·128·128·9 + 4·128) =    525,568
        // layer3: (128·256·9 + 256·256·9 + 4·256 + 128·256 + 2·256) + (2·256·256·9 + 4·256) =  2,099,712
        // layer4: (256·512·9 + 512·512·9 + 4·512 + 256·512 + 2·512) + (2·512·512·9 + 4·512) =  8,393,728
        // total = torchvision's 11,176,512 − (7·7 − 3·3)·3·64 for the smaller stem       = 11,168,832
        let net = ResNet(.podnetResNet18, seed: 0)
        #expect(PODNetResNetTests.learnableCount(net.parameters) == 11_168_832)
        let zero = net.parameters.filter { $0.name.hasSuffix(".gamma") && $0.value.doubles.allSatisfy { $0 == 0 } }.map(\.name)
        #expect(zero.count == 8 && zero.allSatisfy { $0.hasSuffix(".bn2.gamma") })
        #expect(net.levels.compactMap { $0.modules.last as? BasicBlock }.allSatisfy { !$0.finalReLU })
        #expect(net.levels.compactMap { $0.modules.dropLast().last as? BasicBlock }.allSatisfy { $0.finalReLU })
        #expect(AANetsBackbone(phaseZero: net).alphas.count == 4)
    }

    @Test func stageShapesAndPreReLUOutputs() throws {
        let engine = try ComputeEngine(threads: 2)
        let g = Graph(engine: engine, recordsGradients: false)
        let net = ResNet(.podnetResNet18, seed: 1)
        PODNetResNetTests.wakeResidualBranches(net, seed: 1)
        let f = try net.features(g, g.constant(randomTensor([2, 32, 32, 3], seed: 4, dtype: .float32, layout: .nhwc)), mode: .training)
        // The stride-1 stem keeps 32×32; the max-pool halves it once.
        #expect(f.stages.map { g[$0].shape } == [[2, 16, 16, 64], [2, 8, 8, 128], [2, 4, 4, 256], [2, 2, 2, 512]])
        for stage in f.stages { #expect(g[stage].floats.contains { $0 < 0 }) }
        #expect(g[f.pooled].shape == [2, 512])
    }

    @Test func wholeNetworkMatchesFiniteDifferences() throws {
        let net = ResNet(.podnetResNet18, seed: 9)
        // Small residual γ keep the 512-d features, and so the loss, near 1: the kink
        // detector compares difference quotients whose rounding error grows with the loss.
        PODNetResNetTests.wakeResidualBranches(net, seed: 9, range: 0.05...0.2)
        try NetworkGradientTests.check(Network(backbone: net, head: CosineLinearHead(featureDimension: 512, classes: 5, seed: 9)),
                                       label: "PODNet ResNet-18", coordinates: 12)
    }
}
