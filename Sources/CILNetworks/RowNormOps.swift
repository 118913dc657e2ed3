/// Differentiable per-row L2 norms and column concatenation of 2-d values: what PODNet's
/// POD-spatial needs ([POD] `losses/distillation.py` `pod`: the
/// height- and width-pooled maps are concatenated, normalised and compared by
/// `torch.frobenius_norm(a − b, dim=−1)`).
extension Graph {
    /// ‖x_b‖₂ for every row of [N, D] → [N]. The gradient is x_b/‖x_b‖ and 0 for a zero row
    /// (the subgradient PyTorch's norm takes; rows shorter than 1e-12 get x_b·1e12), so identical student and teacher maps never
    /// produce NaN, as sqrt(Σ x²) composed would.
    public func rowNorms(_ x: Var) -> Var {
        let input = self[x]
        precondition(input.rank == 2, "rowNorms expects [N, D], got \(input.shape)")
        let (unit, norms) = engine.l2NormalizeRows(input, epsilon: 1e-12)
        return record(norms, inputs: [x]) { g, dy in
            let spread = g.engine.broadcast(dy, axis: 1, count: input.shape[1])
            g.accumulate(x, g.engine.multiply(spread, unit))
        }
    }

    /// [N, D₁] ‖ [N, D₂] ‖ … → [N, ΣD_i], routing each column block's gradient back.
    public func concatenateColumns(_ parts: [Var]) -> Var {
        let tensors = parts.map { self[$0] }
        precondition(!tensors.isEmpty && tensors.allSatisfy { $0.rank == 2 && $0.shape[0] == tensors[0].shape[0] && $0.dtype == tensors[0].dtype },
                     "concatenateColumns of \(tensors.map(\.shape))")
        let rows = tensors[0].shape[0], widths = tensors.map { $0.shape[1] }, total = widths.reduce(0, +)
        let out = Tensor(uninitialized: [rows, total], dtype: tensors[0].dtype)
        switch out.dtype {
        case .float32: Self.interleave(Float.self, tensors, into: out, widths: widths)
        case .float64: Self.interleave(Double.self, tensors, into: out, widths: widths)
        }
        return record(out, inputs: parts) { g, dy in
            var offset = 0
            for (part, width) in zip(parts, widths) {
                defer { offset += width }
                guard g.requiresGradient(part) else { continue }
                let slice = Tensor(uninitialized: [rows, width], dtype: dy.dtype)
                switch dy.dtype {
                case .float32: Self.extract(Float.self, dy, into: slice, offset: offset)
                case .float64: Self.extract(Double.self, dy, into: slice, offset: offset)
                }
                g.accumulate(part, slice)
            }
        }
    }

    private static func interleave<T: KernelScalar>(_: T.Type, _ parts: [Tensor], into out: Tensor, widths: [Int]) {
        let po = out.mutableScalars(T.self), total = out.shape[1], rows = out.shape[0]
        var offset = 0
        for (part, width) in zip(parts, widths) {
            let pp = part.scalars(T.self)
            for r in 0..<rows {
                (po.baseAddress! + r * total + offset).update(from: pp.baseAddress! + r * width, count: width)
            }
            offset += width
        }
    }

    private static func extract<T: KernelScalar>(_: T.Type, _ whole: Tensor, into slice: Tensor, offset: Int) {
        let pw = whole.scalars(T.self), ps = slice.mutableScalars(T.self)
        let total = whole.shape[1], width = slice.shape[1]
        for r in 0..<whole.shape[0] {
            (ps.baseAddress! + r * width).update(from: pw.baseAddress! + r * total + offset, count: width)
        }
    }
}
