// Throughput of the fast convolution path on the ResNet-32 (CIFAR) layer shapes, for
// comparison across engines and with the per-layer figures in README.md, "Speed"
// (`cilbench bench` prints them).
import Foundation

extension ComputeEngine {
    /// GFLOP/s (nominal FLOPs, see `Conv2DGeometry.flopsForward`) of forward, backward-data and
    /// backward-weights for each distinct ResNet-32 conv shape, as the median of timed calls
    /// after two warm-up calls. Times include the per-call weight reorders and output
    /// allocation, i.e. what a training step pays. Runs float32 on this engine's path.
    public func benchmarkConvolutionLayers(batch: Int) throws
        -> [(name: String, forwardGFLOPS: Double, backwardDataGFLOPS: Double, backwardWeightsGFLOPS: Double)]
    {
        let layers = Self.benchmarkLayers
        var rows: [(name: String, forwardGFLOPS: Double, backwardDataGFLOPS: Double, backwardWeightsGFLOPS: Double)] = []
        for layer in layers {
            let (x, w, dy, g) = Self.layerInputs(layer, index: rows.count, batch: batch)
            let padding = g.padding
            let gflop = g.flopsForward / 1e9
            let fwd = try Self.medianSeconds { _ = try self.conv2dForward(x, weight: w, stride: layer.stride, padding: padding) }
            let bwdData = try Self.medianSeconds { _ = try self.conv2dBackwardData(dy, weight: w, geometry: g) }
            let bwdWeights = try Self.medianSeconds { _ = try self.conv2dBackwardWeights(dy, input: x, geometry: g) }
            rows.append((layer.name, gflop / fwd, gflop / bwdData, gflop / bwdWeights))
        }
        return rows
    }

    /// Per-layer GFLOP/s of this engine and `other`, each call timed in alternation with the
    /// same call on the other engine (medians), for a fair comparison on a machine whose
    /// speed drifts. Columns: forward, backward-data, backward-weights; `.0` self, `.1` other.
    public func compareConvolutionLayers(with other: ComputeEngine, batch: Int)
        throws -> [(name: String, passes: [(Double, Double)])]
    {
        try Self.benchmarkLayers.enumerated().map { index, layer in
            let (x, w, dy, g) = Self.layerInputs(layer, index: index, batch: batch)
            let padding = g.padding
            let gflop = g.flopsForward / 1e9
            let passes: [(ComputeEngine) throws -> Void] = [
                { _ = try $0.conv2dForward(x, weight: w, stride: layer.stride, padding: padding) },
                { _ = try $0.conv2dBackwardData(dy, weight: w, geometry: g) },
                { _ = try $0.conv2dBackwardWeights(dy, input: x, geometry: g) },
            ]
            return (layer.name, try passes.map { pass in
                let (a, b) = try Self.medianSecondsInterleaved({ try pass(self) }, { try pass(other) })
                return (gflop / a, gflop / b)
            })
        }
    }

    /// Seeded uniform inputs, weights and output gradient of one benchmark layer.
    private static func layerInputs(_ layer: (name: String, size: Int, cin: Int, cout: Int, kernel: Int, stride: Int), index: Int, batch: Int)
        -> (x: Tensor, w: Tensor, dy: Tensor, g: Conv2DGeometry)
    {
        var random = RandomStream(seed: 1, purpose: "conv.benchmark", index)
        func filled(_ shape: [Int], _ layout: Layout) -> Tensor {
            var t = Tensor(uninitialized: shape, dtype: .float32, layout: layout)
            t.withUnsafeMutableBufferPointer(as: Float.self) { buffer in
                for i in buffer.indices { buffer[i] = random.nextFloat() * 2 - 1 }
            }
            return t
        }
        let x = filled([batch, layer.size, layer.size, layer.cin], .nhwc)
        let w = filled([layer.cout, layer.cin, layer.kernel, layer.kernel], .oihw)
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: layer.stride, padding: layer.kernel / 2)
        return (x, w, filled(g.outputShape, .nhwc), g)
    }

    /// Every distinct convolution shape of ResNet-32 (CIFAR), and AANets' merged pairs:
    /// input size, channels in and out, kernel and stride; `cilbench bench` and the
    /// Benchmarks package time these.
    public static let benchmarkLayers: [(name: String, size: Int, cin: Int, cout: Int, kernel: Int, stride: Int)] = [
        ("stem 3->16 @32", 32, 3, 16, 3, 1),
        ("s1 16->16 @32", 32, 16, 16, 3, 1),
        ("s2a 16->32 s2 32->16", 32, 16, 32, 3, 2),
        ("s2 32->32 @16", 16, 32, 32, 3, 1),
        ("s3a 32->64 s2 16->8", 16, 32, 64, 3, 2),
        ("s3 64->64 @8", 8, 64, 64, 3, 1),
        ("sc2 1x1 16->32 s2", 32, 16, 32, 1, 2),
        ("sc3 1x1 32->64 s2", 16, 32, 64, 1, 2),
        // An AANets level's stable and plastic first convolutions read the same input: these
        // rows time the pair as one convolution with their output channels side by side.
        ("pair s1 16->2x16 @32", 32, 16, 32, 3, 1),
        ("pair s2a 16->2x32 s2", 32, 16, 64, 3, 2),
        ("pair s3a 32->2x64 s2", 16, 32, 128, 3, 2),
    ]

    private static func medianSecondsInterleaved(_ a: () throws -> Void, _ b: () throws -> Void) throws -> (Double, Double) {
        for _ in 0..<2 { try a(); try b() }
        var ta: [Double] = [], tb: [Double] = []
        let budget = DispatchTime.now().uptimeNanoseconds + 600_000_000
        while ta.count < 7 || (ta.count < 100 && DispatchTime.now().uptimeNanoseconds < budget) {
            var start = DispatchTime.now().uptimeNanoseconds
            try a()
            ta.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            start = DispatchTime.now().uptimeNanoseconds
            try b()
            tb.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        return (ta.sorted()[ta.count / 2], tb.sorted()[tb.count / 2])
    }

    /// Median wall time of `body` over as many calls as fit in ~0.3 s (at least 5, at most 100).
    private static func medianSeconds(_ body: () throws -> Void) throws -> Double {
        try body()
        try body()
        var times: [Double] = []
        let budget = DispatchTime.now().uptimeNanoseconds + 300_000_000
        while times.count < 5 || (times.count < 100 && DispatchTime.now().uptimeNanoseconds < budget) {
            let start = DispatchTime.now().uptimeNanoseconds
            try body()
            times.append(Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
        }
        times.sort()
        return times[times.count / 2]
    }
}
