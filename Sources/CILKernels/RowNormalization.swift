/// L2 normalisation of the rows of a [N, D] tensor: y = x / max(‖x‖, ε), as
/// torch.nn.functional.normalize. Cosine classifiers and cosine similarities build on it.
extension ComputeEngine {
    public func l2NormalizeRows(_ x: Tensor, epsilon: Double = 1e-12) -> (output: Tensor, norms: Tensor) {
        precondition(x.rank == 2, "l2NormalizeRows expects [N, D], got \(x.shape)")
        let out = Tensor(uninitialized: x.shape, dtype: x.dtype)
        let norms = Tensor(uninitialized: [x.shape[0]], dtype: x.dtype)
        switch x.dtype {
        case .float32: Reference.l2NormalizeRows(Float.self, x, out, norms, epsilon)
        case .float64: Reference.l2NormalizeRows(Double.self, x, out, norms, epsilon)
        }
        record("l2_normalize_rows", inputs: [x], output: out)
        return (out, norms)
    }

    /// dx = (g − y·⟨y, g⟩) / ‖x‖ where ‖x‖ > ε, and g / ε where the norm was clamped.
    public func l2NormalizeRowsBackward(_ gradOutput: Tensor, output: Tensor, norms: Tensor, epsilon: Double = 1e-12) -> Tensor {
        let out = Tensor(uninitialized: output.shape, dtype: output.dtype)
        switch output.dtype {
        case .float32: Reference.l2NormalizeRowsBackward(Float.self, gradOutput, output, norms, epsilon, out)
        case .float64: Reference.l2NormalizeRowsBackward(Double.self, gradOutput, output, norms, epsilon, out)
        }
        record("l2_normalize_rows.backward", inputs: [gradOutput, output], output: out)
        return out
    }
}

extension Reference {
    static func l2NormalizeRows<T: KernelScalar>(_: T.Type, _ x: Tensor, _ out: Tensor, _ norms: Tensor, _ epsilon: Double) {
        let px = x.scalars(T.self), po = out.mutableScalars(T.self), pn = norms.mutableScalars(T.self)
        let rows = x.shape[0], cols = x.shape[1]
        for r in 0..<rows {
            var sum = 0.0
            for c in 0..<cols { sum += Double(px[r * cols + c]) * Double(px[r * cols + c]) }
            let norm = sum.squareRoot()
            pn[r] = T(norm)
            let inverse = T(1 / Swift.max(norm, epsilon))
            for c in 0..<cols { po[r * cols + c] = px[r * cols + c] * inverse }
        }
    }

    static func l2NormalizeRowsBackward<T: KernelScalar>(_: T.Type, _ g: Tensor, _ y: Tensor, _ norms: Tensor, _ epsilon: Double, _ out: Tensor) {
        let pg = g.scalars(T.self), py = y.scalars(T.self), pn = norms.scalars(T.self), po = out.mutableScalars(T.self)
        let rows = y.shape[0], cols = y.shape[1]
        for r in 0..<rows {
            let norm = Double(pn[r])
            if norm > epsilon {
                var dot = 0.0
                for c in 0..<cols { dot += Double(py[r * cols + c]) * Double(pg[r * cols + c]) }
                let inverse = T(1 / norm), d = T(dot)
                for c in 0..<cols { po[r * cols + c] = (pg[r * cols + c] - py[r * cols + c] * d) * inverse }
            } else {
                let inverse = T(1 / epsilon)
                for c in 0..<cols { po[r * cols + c] = pg[r * cols + c] * inverse }
            }
        }
    }
}
