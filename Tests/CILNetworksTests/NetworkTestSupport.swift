import CILNetworks

func randomTensor(_ shape: [Int], seed: UInt64, dtype: DType = .float64, layout: Layout = .plain, scale: Double = 1) -> Tensor {
    var stream = RandomStream(seed: seed, purpose: "test.random_tensor")
    let values = (0..<shape.reduce(1, *)).map { _ in (stream.nextDouble() * 2 - 1) * scale }
    let t = Tensor(shape: shape, scalars: values, layout: layout)
    return dtype == .float64 ? t : t.converted(to: .float32)
}

func relativeError(_ a: [Double], _ b: [Double]) -> Double {
    let scale = max(b.map(abs).max() ?? 0, 1e-30)
    return zip(a, b).map { abs($0 - $1) }.max().map { $0 / scale } ?? 0
}

extension Array where Element == Parameter {
    /// Converts every parameter (and buffer) to `dtype`, for float64 checks.
    func convert(to dtype: DType) {
        for p in self { p.value = p.value.converted(to: dtype) }
    }
}

/// Picks `count` coordinates spread over the trainable parameters, deterministically.
func sampledCoordinates(_ parameters: [Parameter], count: Int, seed: UInt64) -> [(Parameter, Int)] {
    let trainable = parameters.filter(\.isTrainable)
    var stream = RandomStream(seed: seed, purpose: "test.coordinates")
    return (0..<count).map { i in
        let p = trainable[i % trainable.count == 0 ? 0 : stream.nextInt(below: trainable.count)]
        return (p, stream.nextInt(below: p.value.count))
    }
}

func perturb(_ p: Parameter, _ index: Int, by delta: Double) {
    switch p.value.dtype {
    case .float64: p.value.withUnsafeMutableBufferPointer(as: Double.self) { $0[index] += delta }
    case .float32: p.value.withUnsafeMutableBufferPointer(as: Float.self) { $0[index] += Float(delta) }
    }
}
