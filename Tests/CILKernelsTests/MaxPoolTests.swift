import CILKernels
import Testing

/// Small integers, so windows tie often and the tie rule is exercised.
private func tiedValues(_ count: Int, _ purpose: String, _ index: Int, levels: Int) -> [Double] {
    var r = RandomStream(seed: 0x9001, purpose: purpose, index)
    return (0..<count).map { _ in Double(r.nextInt(below: levels)) - Double(levels / 2) }
}

private func uniformValues(_ count: Int, _ purpose: String, _ index: Int) -> [Double] {
    var r = RandomStream(seed: 0x9001, purpose: purpose, index)
    return (0..<count).map { _ in Double(Float(r.nextDouble() * 2 - 1)) }
}

@Suite struct MaxPoolTests {
    /// (N, H, W, C): 3x3 stride-2 pad-1 pooling on even and odd sizes, C below and above 16.
    static let shapes: [[Int]] = [[2, 8, 8, 16], [1, 7, 9, 5], [3, 9, 7, 3], [2, 16, 16, 64], [1, 3, 3, 1]]

    @Test(arguments: [2, 1_000_000])
    func fastMatchesReference(levels: Int) throws {
        let fast = try ComputeEngine(threads: 2)
        let reference32 = try ComputeEngine(threads: 2, path: .reference)
        var ties = 0
        for (index, shape) in Self.shapes.enumerated() {
            let values = tiedValues(shape.reduce(1, *), "pool.x", index, levels: levels)
            let x32 = Tensor(shape: shape, scalars: values.map(Float.init), layout: .nhwc)
            let x64 = Tensor(shape: shape, scalars: values, layout: .nhwc)
            let y = try fast.maxPool2dForward(x32, kernel: 3, stride: 2, padding: 1)
            let y64 = try fast.maxPool2dForward(x64, kernel: 3, stride: 2, padding: 1)
            let yRef32 = try reference32.maxPool2dForward(x32, kernel: 3, stride: 2, padding: 1)
            #expect(y.shape == [shape[0], (shape[1] - 1) / 2 + 1, (shape[2] - 1) / 2 + 1, shape[3]])
            #expect(y.doubles == y64.doubles, "forward \(shape)")
            #expect(y.doubles == yRef32.doubles, "forward \(shape)")

            let dyValues = uniformValues(y.count, "pool.dy", index)
            let dy32 = Tensor(shape: y.shape, scalars: dyValues.map(Float.init), layout: .nhwc)
            let dy64 = Tensor(shape: y.shape, scalars: dyValues, layout: .nhwc)
            let dx = try fast.maxPool2dBackward(dy32, input: x32, output: y, kernel: 3, stride: 2, padding: 1)
            let dxRef32 = try reference32.maxPool2dBackward(dy32, input: x32, output: yRef32, kernel: 3, stride: 2, padding: 1)
            let dx64 = try fast.maxPool2dBackward(dy64, input: x64, output: y64, kernel: 3, stride: 2, padding: 1)
            // Same routing and the same accumulation order: bitwise equal to the float32 reference.
            #expect(Digest.of(dx) == Digest.of(dxRef32), "backward \(shape)")
            let a = dx.doubles, b = dx64.doubles
            #expect(a.indices.allSatisfy { abs(a[$0] - b[$0]) <= 1e-6 }, "backward \(shape) vs float64")
            // Gradient mass is conserved: each output gradient lands on exactly one input.
            #expect(abs(b.reduce(0, +) - dyValues.reduce(0, +)) < 1e-9)
            ties += values.count - Set(values).count
        }
        if levels == 2 { #expect(ties > 0) }
    }

    /// Constant input: every window ties, so each gradient goes to its window's first valid element.
    @Test(arguments: [KernelPath.fast, .reference])
    func tiesGoToFirstElementInWindowOrder(path: KernelPath) throws {
        let engine = try ComputeEngine(threads: 2, path: path)
        let x = Tensor(filled: 3, shape: [1, 4, 4, 1], dtype: .float32, layout: .nhwc)
        let y = try engine.maxPool2dForward(x, kernel: 3, stride: 2, padding: 1)
        #expect(y.doubles == [3, 3, 3, 3])
        let dy = Tensor(shape: [1, 2, 2, 1], scalars: [1, 2, 3, 4] as [Float], layout: .nhwc)
        let dx = try engine.maxPool2dBackward(dy, input: x, output: y, kernel: 3, stride: 2, padding: 1)
        // Windows start at rows/cols -1 and 1; their first valid elements are (0,0), (0,1), (1,0), (1,1).
        #expect(dx.doubles == [1, 2, 0, 0, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func handComputedForwardAndBackward() throws {
        let engine = try ComputeEngine(threads: 2)
        // 1x4x4x1 with distinct values; negative values so that padding must not count as 0.
        let x = Tensor(shape: [1, 4, 4, 1], scalars: [-5, -1, -7, -3, -2, -9, -4, -8, -6, -10, -11, -12, -13, -14, -15, -16] as [Float], layout: .nhwc)
        let y = try engine.maxPool2dForward(x, kernel: 3, stride: 2, padding: 1)
        // Window (0,0): rows 0-1, cols 0-1 -> max(-5,-1,-2,-9) = -1 at (0,1).
        // Window (0,1): rows 0-1, cols 1-3 -> -1 at (0,1) again.
        // Window (1,0): rows 1-3, cols 0-1 -> -2 at (1,0).
        // Window (1,1): rows 1-3, cols 1-3 -> -4 at (1,2).
        #expect(y.doubles == [-1, -1, -2, -4])
        let dy = Tensor(shape: [1, 2, 2, 1], scalars: [1, 10, 100, 1000] as [Float], layout: .nhwc)
        let dx = try engine.maxPool2dBackward(dy, input: x, output: y, kernel: 3, stride: 2, padding: 1)
        #expect(dx.doubles == [0, 11, 0, 0, 100, 0, 1000, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    }

    @Test func fastPathIsDeterministicAndRecorded() throws {
        final class Recorder: KernelObserver {
            var kinds: [String] = []
            func kernelDidRun(_ record: KernelRecord) { kinds.append(record.kind) }
        }
        let engine = try ComputeEngine(threads: 2)
        let recorder = Recorder()
        engine.observer = recorder
        let x = Tensor(shape: [4, 16, 16, 32], scalars: uniformValues(4 * 16 * 16 * 32, "pool.det", 0).map(Float.init), layout: .nhwc)
        let y1 = try engine.maxPool2dForward(x, kernel: 3, stride: 2, padding: 1)
        let y2 = try engine.maxPool2dForward(x, kernel: 3, stride: 2, padding: 1)
        #expect(Digest.of(y1) == Digest.of(y2))
        let dx1 = try engine.maxPool2dBackward(y1, input: x, output: y1, kernel: 3, stride: 2, padding: 1)
        let dx2 = try engine.maxPool2dBackward(y1, input: x, output: y2, kernel: 3, stride: 2, padding: 1)
        #expect(Digest.of(dx1) == Digest.of(dx2))
        #expect(recorder.kinds == ["maxpool2d.forward", "maxpool2d.forward", "maxpool2d.backward", "maxpool2d.backward"])
    }
}
