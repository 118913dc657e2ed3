import CILKernels

/// Central finite differences in float64 of a scalar function of one tensor.
func numericalGradient(_ x: Tensor, epsilon: Double = 1e-6, _ f: (Tensor) -> Double) -> [Double] {
    precondition(x.dtype == .float64)
    var gradient = [Double](repeating: 0, count: x.count)
    var probe = x
    for i in 0..<x.count {
        let original = probe.doubles[i]
        probe.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] = original + epsilon }
        let plus = f(probe)
        probe.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] = original - epsilon }
        let minus = f(probe)
        probe.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] = original }
        gradient[i] = (plus - minus) / (2 * epsilon)
    }
    return gradient
}

/// max |a − b| / max(max |b|, tiny).
func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    precondition(a.count == b.count)
    let scale = max(b.map(abs).max() ?? 0, 1e-30)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

func randomTensor(_ shape: [Int], seed: UInt64, dtype: DType = .float64, layout: Layout = .plain, scale: Double = 1) -> Tensor {
    var stream = RandomStream(seed: seed, purpose: "test.random_tensor")
    let values = (0..<shape.reduce(1, *)).map { _ in (stream.nextDouble() * 2 - 1) * scale }
    let t = Tensor(shape: shape, scalars: values, layout: layout)
    return dtype == .float64 ? t : t.converted(to: .float32)
}

/// Σ w ⊙ y in float64, the scalar probe used by every gradient check.
func weightedSum(_ y: Tensor, _ w: Tensor) -> Double {
    zip(y.doubles, w.doubles).reduce(0) { $0 + $1.0 * $1.1 }
}
