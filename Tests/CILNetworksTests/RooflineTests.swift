import CILNetworks
import Testing

/// The convolution work `cilbench bench --roofline` divides by the FMA peak: multiply-adds
/// over taps inside the image, stride and padding recovered from the shapes.
@Suite struct RooflineTests {
    @Test func inImageTapsOfSmallGeometries() throws {
        // 4x4 input, 3x3 kernel, stride 1, padding 1: per axis 4 outputs x 3 taps - 2 border taps = 10.
        // Stride 2: outputs 0 and 1 see 2 and 3 in-image taps = 5. A 1x1 stride-2 kernel: 2.
        let engine = try ComputeEngine(threads: 1)
        let counter = ConvolutionWorkCounter()
        engine.observer = counter
        let x = randomTensor([2, 4, 4, 3], seed: 1, dtype: .float32, layout: .nhwc)
        _ = try engine.conv2dForward(x, weight: randomTensor([5, 3, 3, 3], seed: 2, dtype: .float32, layout: .oihw), stride: 1, padding: 1)
        #expect(counter.multiplyAdds["conv2d.forward"] == Double(2 * 10 * 10 * 5 * 3))
        _ = try engine.conv2dForward(x, weight: randomTensor([5, 3, 3, 3], seed: 2, dtype: .float32, layout: .oihw), stride: 2, padding: 1)
        _ = try engine.conv2dForward(x, weight: randomTensor([5, 3, 1, 1], seed: 3, dtype: .float32, layout: .oihw), stride: 2, padding: 0)
        #expect(counter.multiplyAdds["conv2d.forward"] == Double(2 * 5 * 3 * (10 * 10 + 5 * 5 + 2 * 2)))
    }

    /// ResNet-32 (LUCIR's CIFAR variant): a training step's convolutions, forward,
    /// backward-data (not for the stem: images need no gradient) and backward-weights.
    @Test func resNet32TrainingStep() throws {
        // Per image, in-image taps per axis: 3x3/1 on 32, 16, 8 -> 94, 46, 22; 3x3/2 from 32, 16 -> 47, 23;
        // 1x1/2 -> 16, 8. Stem 3->16, 10 convs 16->16 at 32; a 16->32 down-conv and shortcut, 9 convs 32->32;
        // a 32->64 down-conv and shortcut, 9 convs 64->64.
        let perImage = 94 * 94 * (3 * 16 + 10 * 16 * 16) + 47 * 47 * 16 * 32 + 16 * 16 * 16 * 32
            + 46 * 46 * 9 * 32 * 32 + 23 * 23 * 32 * 64 + 8 * 8 * 32 * 64 + 22 * 22 * 9 * 64 * 64
        #expect(perImage == 62_864_064)
        let engine = try ComputeEngine(threads: 2)
        let net = ResNet(.resnet32, seed: 7)
        let g = Graph(engine: engine)
        let images = g.constant(randomTensor([2, 32, 32, 3], seed: 4, dtype: .float32, layout: .nhwc))
        let counter = ConvolutionWorkCounter()
        engine.observer = counter
        let loss = g.sum(try net.features(g, images, mode: .training).pooled)
        try g.backward(from: loss)
        engine.observer = nil
        let stem = Double(2 * 94 * 94 * 3 * 16)
        #expect(counter.multiplyAdds["conv2d.forward"] == Double(2 * perImage))
        #expect(counter.multiplyAdds["conv2d.backward_weights"] == Double(2 * perImage))
        #expect(counter.multiplyAdds["conv2d.backward_data"] == Double(2 * perImage) - stem)
    }

    @Test func fmaPeakIsMeasured() throws {
        let peak = try ComputeEngine(threads: 1).measureFMAPeak(seconds: 0.01)
        #expect(peak.gflops > 0 && [256, 512].contains(peak.vectorBits) && peak.perThread.count == 1)
    }
}
