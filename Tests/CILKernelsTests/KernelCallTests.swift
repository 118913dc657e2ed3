import CILKernels
import Foundation
import Testing

/// A captured call re-executes to the same bits on the same engine, for every capturable
/// kind, and its float64 re-execution lands within float32 rounding of the captured output.
@Suite struct KernelCallTests {
    static func t(_ shape: [Int], _ seed: UInt64, layout: Layout = .plain, positive: Bool = false) -> Tensor {
        let x = randomTensor(shape, seed: seed, dtype: .float32, layout: layout)
        return positive ? Tensor(shape: shape, scalars: x.floats.map { abs($0) + 0.5 }, layout: layout) : x
    }

    /// Runs `body` with the engine capturing its (single) kernel call; returns the capture.
    static func capture(_ engine: ComputeEngine, _ body: (ComputeEngine) throws -> Void) rethrows -> KernelCall? {
        engine.captureSequence = engine.sequence + 1
        try body(engine)
        return engine.capturedCall
    }

    @Test func everyCapturableKindReExecutesExactly() throws {
        let engine = try ComputeEngine(threads: 2)
        let x = Self.t([2, 6, 6, 4], 1, layout: .nhwc), w = Self.t([8, 4, 3, 3], 2, layout: .oihw)
        let g = Conv2DGeometry(input: x.shape, weight: w.shape, stride: 2, padding: 1)
        let dy = Self.t(g.outputShape, 3, layout: .nhwc)
        let gamma = Self.t([4], 4, positive: true), beta = Self.t([4], 5), mean = Self.t([4], 6), variance = Self.t([4], 7, positive: true)
        let a = Self.t([5, 7], 8), b = Self.t([7, 3], 9), bt = Self.t([3, 7], 10)
        let stats = try engine.batchNormTraining(x, gamma: gamma, beta: beta).statistics
        let y = try engine.batchNormReLUTraining(x, gamma: gamma, beta: beta).output
        let bias = Self.t([8], 11)
        let residual = Self.t(g.outputShape, 12, layout: .nhwc)
        // Blocked nChw16c activations (the Winograd engine's stages): the capture keeps the layouts.
        let x16 = Self.t([2, 5, 5, 16], 13, layout: .nhwc), w16 = Self.t([32, 16, 3, 3], 14, layout: .oihw)
        let g16 = Conv2DGeometry(input: x16.shape, weight: w16.shape, stride: 1, padding: 1)
        let dy16 = try engine.reordered(Self.t(g16.outputShape, 15, layout: .nhwc), to: .nChw16c)
        let calls: [(String, (ComputeEngine) throws -> Void)] = [
            ("conv2d.forward", { _ = try $0.conv2dForward(x, weight: w, stride: 2, padding: 1) }),
            ("conv2d.backward_data", { _ = try $0.conv2dBackwardData(dy, weight: w, geometry: g) }),
            ("conv2d.backward_weights", { _ = try $0.conv2dBackwardWeights(dy, input: x, geometry: g) }),
            ("conv2d.forward", { _ = try $0.conv2dForward(x16, weight: w16, stride: 1, padding: 1, outputLayout: .nChw16c) }),
            ("conv2d.backward_data", { _ = try $0.conv2dBackwardData(dy16, weight: w16, geometry: g16, inputLayout: .nChw16c) }),
            ("reorder", { _ = try $0.reordered(x16, to: .nChw16c) }),
            ("conv2d.inference", { _ = try $0.conv2dInference(x, weight: w, bias: bias, stride: 2, padding: 1, residual: residual, relu: true) }),
            ("batchNormTraining", { _ = try $0.batchNormTraining(x, gamma: gamma, beta: beta, epsilon: 1e-3) }),
            ("batchNormReLUTraining", { _ = try $0.batchNormReLUTraining(x, gamma: gamma, beta: beta) }),
            ("batchNormAddTraining", { _ = try $0.batchNormAddTraining(x, gamma: gamma, beta: beta, residual: y, relu: false) }),
            ("batchNormAddReLUTraining", { _ = try $0.batchNormAddTraining(x, gamma: gamma, beta: beta, residual: y, relu: true) }),
            ("batchNormTrainingBackward", { _ = try $0.batchNormTrainingBackward(x, input: x, gamma: gamma, statistics: stats) }),
            ("batchNormReLUTrainingBackward", { _ = try $0.batchNormReLUTrainingBackward(x, input: x, output: y, gamma: gamma, statistics: stats) }),
            ("batchNormInference", { _ = try $0.batchNormInference(x, gamma: gamma, beta: beta, runningMean: mean, runningVariance: variance) }),
            ("batchNormInferenceBackward", { _ = try $0.batchNormInferenceBackward(x, gamma: gamma, runningVariance: variance, epsilon: 1e-2) }),
            ("matmul", { _ = $0.matmul(a, b) }),
            ("matmul", { _ = $0.matmul(a, bt, transposeB: true) }),
            ("add", { _ = $0.add(x, y) }), ("subtract", { _ = $0.subtract(x, y) }), ("multiply", { _ = $0.multiply(x, y) }),
            ("scale", { _ = $0.scale(x, by: 0.3) }), ("axpby", { _ = $0.axpby(x, alpha: 0.7, y, beta: -1.5) }),
            ("relu", { _ = $0.relu(x) }), ("reluBackward", { _ = $0.reluBackward(x, output: y) }), ("addReLU", { _ = $0.addReLU(x, y) }),
        ]
        #expect(Set(calls.map(\.0)) == KernelCall.capturableKinds)
        for (kind, body) in calls {
            let call = try #require(try Self.capture(engine, body), "\(kind) was not captured")
            #expect(call.kind == kind && call.isCapturable)
            let again = try call.execute(on: engine)
            #expect(Digest.of(again) == Digest.of(call.output), "\(kind) re-executed to other bits")
            let exact = try call.execute(on: engine, inputs: call.inputs.map { $0.converted(to: .float64) })
            #expect(exact.dtype == .float64)
            let scale = exact.doubles.reduce(0) { max($0, abs($1)) }
            #expect(TensorDifference(call.output, exact).maxAbsolute <= 1e-4 * max(scale, 1), "\(kind) is far from float64")
        }
    }

    @Test func otherKindsAreNotCapturable() throws {
        let engine = try ComputeEngine(threads: 1)
        let x = Self.t([3, 4], 1)
        let call = try #require(Self.capture(engine) { _ = $0.sum(x) })
        #expect(!call.isCapturable)
        #expect(throws: KernelError.self) { try call.execute(on: engine) }
    }

    /// Captured tensors are copies: a later in-place kernel on the input leaves them alone.
    @Test func capturedTensorsAreDetached() throws {
        let engine = try ComputeEngine(threads: 1)
        var x = Self.t([4, 4], 1)
        let before = Digest.of(x)
        let call = try #require(Self.capture(engine) { _ = $0.relu(x) })
        engine.addInPlace(&x, x)
        #expect(Digest.of(call.inputs[0]) == before)
    }
}
