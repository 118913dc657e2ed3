/// Differentiable selection from [N, C] score matrices: a contiguous block of columns (the
/// old- or new-class logits of a class-incremental head) and single entries picked per row
/// (the ground-truth and hard-negative cosines of LUCIR's margin ranking loss, [LUCIR]
/// `utils_incremental/incremental_train_and_eval_MR_LF.py`). The
/// gradient flows only to the selected entries, as with PyTorch slicing, `masked_select`
/// and `topk` values.
extension Graph {
    /// Columns `range` of a 2-d value, as a new [N, range.count] value.
    public func columns(_ x: Var, _ range: Range<Int>) -> Var {
        let input = self[x]
        precondition(input.rank == 2 && range.lowerBound >= 0 && range.upperBound <= input.shape[1],
                     "columns \(range) of a value shaped \(input.shape)")
        let rows = input.shape[0], width = input.shape[1], picked = range.count
        let values = input.doubles
        var out = [Double](repeating: 0, count: rows * picked)
        for r in 0..<rows { for c in 0..<picked { out[r * picked + c] = values[r * width + range.lowerBound + c] } }
        return record(Self.tensor(out, shape: [rows, picked], like: input), inputs: [x]) { g, dy in
            let d = dy.doubles
            var grad = [Double](repeating: 0, count: rows * width)
            for r in 0..<rows { for c in 0..<picked { grad[r * width + range.lowerBound + c] = d[r * picked + c] } }
            g.accumulate(x, Self.tensor(grad, shape: [rows, width], like: input))
        }
    }

    /// The entries x[rows[i], columns[i]] as a [n] value; a repeated entry gets the sum of
    /// its gradients.
    public func gather(_ x: Var, rows: [Int], columns: [Int]) -> Var {
        let input = self[x]
        precondition(input.rank == 2 && rows.count == columns.count, "gather from \(input.shape) with \(rows.count) rows, \(columns.count) columns")
        let width = input.shape[1]
        precondition(zip(rows, columns).allSatisfy { $0 >= 0 && $0 < input.shape[0] && $1 >= 0 && $1 < width }, "gather index out of \(input.shape)")
        let values = input.doubles
        let out = zip(rows, columns).map { values[$0 * width + $1] }
        return record(Self.tensor(out, shape: [out.count], like: input), inputs: [x]) { g, dy in
            let d = dy.doubles
            var grad = [Double](repeating: 0, count: input.count)
            for (i, (r, c)) in zip(rows, columns).enumerated() { grad[r * width + c] += d[i] }
            g.accumulate(x, Self.tensor(grad, shape: input.shape, like: input))
        }
    }

    /// A tensor of `input`'s dtype (selection never changes the precision).
    static func tensor(_ values: [Double], shape: [Int], like input: Tensor) -> Tensor {
        input.dtype == .float64 ? Tensor(shape: shape, scalars: values) : Tensor(shape: shape, scalars: values.map(Float.init))
    }
}
