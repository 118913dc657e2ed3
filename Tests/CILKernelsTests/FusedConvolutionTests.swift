import CILKernels
import Testing

@Suite struct FusedConvolutionTests {
    let engine = try! ComputeEngine(threads: 2)

    /// The oneDNN path (bias, sum and ReLU post-ops) against the float64 reference, for
    /// every epilogue and the strides and kernels ResNets use.
    @Test(arguments: [(3, 1, 1), (3, 2, 1), (1, 2, 0), (7, 2, 3)])
    func fastMatchesFloat64Reference(kernel: Int, stride: Int, padding: Int) throws {
        let x = randomTensor([3, 9, 9, 5], seed: 1, layout: .nhwc)
        let w = randomTensor([8, 5, kernel, kernel], seed: 2, layout: .oihw)
        let b = randomTensor([8], seed: 3)
        let outSide = (9 + 2 * padding - kernel) / stride + 1
        let r = randomTensor([3, outSide, outSide, 8], seed: 4, layout: .nhwc)
        for (residual, relu) in [(false, false), (false, true), (true, false), (true, true)] {
            let exact = try engine.conv2dInference(x, weight: w, bias: b, stride: stride, padding: padding, residual: residual ? r : nil, relu: relu)
            let fast = try engine.conv2dInference(x.converted(to: .float32), weight: w.converted(to: .float32), bias: b.converted(to: .float32),
                                                  stride: stride, padding: padding, residual: residual ? r.converted(to: .float32) : nil, relu: relu)
            let error = relativeError(fast.doubles, exact.doubles)
            #expect(error < 1e-5, "k\(kernel) s\(stride) residual \(residual) relu \(relu): \(error)")
            if relu { #expect(fast.floats.allSatisfy { $0 >= 0 }) }
        }
    }

    /// Hand value: a 1×1 convolution of ones with weight 2, bias −3, residual 0.5 → 2−3+0.5 = −0.5, ReLU → 0.
    @Test func handComputed() throws {
        let x = Tensor(filled: 1, shape: [1, 2, 2, 1], layout: .nhwc)
        let w = Tensor(filled: 2, shape: [1, 1, 1, 1], layout: .oihw)
        let b = Tensor(shape: [1], scalars: [Float(-3)])
        let r = Tensor(filled: 0.5, shape: [1, 2, 2, 1], layout: .nhwc)
        #expect(try engine.conv2dInference(x, weight: w, bias: b, stride: 1, padding: 0, residual: r, relu: false).floats == [-0.5, -0.5, -0.5, -0.5])
        #expect(try engine.conv2dInference(x, weight: w, bias: b, stride: 1, padding: 0, residual: r, relu: true).floats == [0, 0, 0, 0])
    }
}
