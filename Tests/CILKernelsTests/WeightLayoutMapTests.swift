import CILKernels
import Testing

/// The offset tables that move convolution weights between plain OIHW and oneDNN's blocked
/// layouts (WeightLayoutMap.swift) against oneDNN's own reorder, on every layout the engine
/// chose for the ResNet-32 layers, in both directions, bit for bit.
@Suite struct WeightLayoutMapTests {
    @Test(arguments: ["direct", "winograd"])
    func everyMappedLayoutAgreesWithOneDNNsReorder(conv3x3: String) throws {
        let engine = try ComputeEngine(threads: 2, conv3x3: conv3x3 == "winograd" ? .winograd : .onednn)
        // Populate the primitive cache with every pass of every ResNet-32 layer shape, and
        // the evaluation convolutions with and without the residual sum.
        _ = try engine.benchmarkConvolutionLayers(batch: 8)
        for layer in ComputeEngine.benchmarkLayers {
            let x = Tensor(filled: 0.5, shape: [8, layer.size, layer.size, layer.cin], layout: .nhwc)
            let w = Tensor(filled: 0.25, shape: [layer.cout, layer.cin, layer.kernel, layer.kernel], layout: .oihw)
            let b = Tensor(filled: 0, shape: [layer.cout])
            let y = try engine.conv2dInference(x, weight: w, bias: b, stride: layer.stride, padding: layer.kernel / 2, residual: nil, relu: true)
            _ = try engine.conv2dInference(x, weight: w, bias: b, stride: layer.stride, padding: layer.kernel / 2, residual: y, relu: false)
        }
        let checks = try engine.checkWeightLayoutMaps()
        // The direct kernels' layouts are all blocked (Acdb16a, ABcd16b16a, ...): at least
        // one map per layer shape and pass.
        #expect(checks.count >= ComputeEngine.benchmarkLayers.count)
        for check in checks { #expect(check.agrees, "\(check.layout)") }
    }
}
