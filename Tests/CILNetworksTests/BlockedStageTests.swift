import CILNetworks
import Testing

/// The Winograd engine keeps the wide residual stages in nChw16c (BlockedLayout.swift);
/// the network must compute the same function as with NHWC throughout: the same stage maps
/// (handed to methods in NHWC), logits and parameter gradients as the direct engine, up to
/// the rounding of the Winograd transforms.
@Suite struct BlockedStageTests {
    struct Run {
        var stages: [Tensor]
        var logits: Tensor
        var gradients: [[Double]]
        var folded: Tensor
        var unfolded: Tensor
    }

    static func run(_ engine: ComputeEngine, aanets: Bool) throws -> Run {
        let plain = ResNet(.resnet32, seed: 8)
        let backbone: any Backbone = aanets ? AANetsBackbone(phaseZero: plain) : plain
        let network = Network(backbone: backbone, head: CosineLinearHead(featureDimension: 64, classes: 10, seed: 8))
        let images = randomTensor([6, 16, 16, 3], seed: 9, dtype: .float32, layout: .nhwc)
        let g = Graph(engine: engine, recordsGradients: true)
        let out = try network.forward(g, images: g.constant(images), mode: .training)
        let loss = g.crossEntropy(out.logits, labels: [0, 3, 9, 3, 1, 7])
        try g.backward(from: loss)
        FoldedInferenceTests.randomizeStatistics(network.parameters)
        let folded = Graph(engine: engine, recordsGradients: false)
        let unfolded = Graph(engine: engine, recordsGradients: true)
        let a = try network.forward(folded, images: folded.constant(images), mode: .evaluation)
        let b = try network.forward(unfolded, images: unfolded.constant(images), mode: .evaluation)
        return Run(stages: out.features.stages.map { g[$0] }, logits: g[out.logits],
                   gradients: network.parameters.map { $0.gradient?.doubles ?? [] }, folded: folded[a.logits], unfolded: unfolded[b.logits])
    }

    @Test(.enabled(if: Conv3x3Kernel.cpuSupportsWinograd), arguments: [false, true])
    func winogradEngineComputesWhatTheDirectEngineDoes(aanets: Bool) throws {
        let winograd = try ComputeEngine(threads: 2, conv3x3: .winograd)
        let direct = try ComputeEngine(threads: 2, conv3x3: .onednn)
        #expect(winograd.activationLayout(channels: 32) == .nChw16c && winograd.activationLayout(channels: 16) == .nhwc)
        #expect(direct.activationLayout(channels: 64) == .nhwc && winograd.activationLayout(channels: 64, dtype: .float64) == .nhwc)
        let w = try Self.run(winograd, aanets: aanets), d = try Self.run(direct, aanets: aanets)
        #expect(w.stages.allSatisfy { $0.layout == .nhwc })
        for (k, (x, y)) in zip(w.stages, d.stages).enumerated() {
            let error = relativeError(x.doubles, y.doubles)
            #expect(error < 1e-4, "stage \(k + 1): \(error)")
        }
        #expect(relativeError(w.logits.doubles, d.logits.doubles) < 1e-4)
        #expect(relativeError(w.folded.doubles, d.folded.doubles) < 1e-4)
        #expect(relativeError(w.folded.doubles, w.unfolded.doubles) < 1e-4)
        var worst = 0.0
        for (a, b) in zip(w.gradients, d.gradients) where !b.isEmpty { worst = max(worst, relativeError(a, b)) }
        print("Winograd engine (blocked stages) vs direct, \(aanets ? "AANets" : "ResNet-32"): worst parameter-gradient error \(worst)")
        #expect(worst < 1e-3)
        // The same engine gives the same bits again.
        let again = try Self.run(winograd, aanets: aanets)
        #expect(again.logits.doubles == w.logits.doubles && again.gradients == w.gradients && again.folded.doubles == w.folded.doubles)
    }
}
