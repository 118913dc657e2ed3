/// Sums, means and maxima over one axis, and the broadcasts their gradients need.
/// Accumulation runs in Double in a fixed order, so results do not depend on threads.
extension ComputeEngine {
    /// Sum over `axis`, which is removed from the shape.
    public func reduceSum(_ x: Tensor, axis: Int) -> Tensor {
        let (outer, size, inner) = x.split(at: axis)
        var shape = x.shape
        shape.remove(at: axis)
        let out = Tensor(zeros: shape, dtype: x.dtype)
        switch x.dtype {
        case .float32: Reference.reduceSum(Float.self, x, out, outer: outer, size: size, inner: inner)
        case .float64: Reference.reduceSum(Double.self, x, out, outer: outer, size: size, inner: inner)
        }
        record("reduce.sum", inputs: [x], output: out)
        return out
    }

    /// Sum of every element, as a rank-0 tensor.
    public func sumAll(_ x: Tensor) -> Tensor {
        let total: Double
        switch x.dtype {
        case .float32: total = x.scalars(Float.self).reduce(0.0) { $0 + Double($1) }
        case .float64: total = x.scalars(Double.self).reduce(0.0, +)
        }
        let out = Tensor(filled: total, shape: [], dtype: x.dtype)
        record("reduce.sum_all", inputs: [x], output: out)
        return out
    }

    /// Maximum over `axis` and, per output element, the index along `axis` of the first maximum.
    public func reduceMax(_ x: Tensor, axis: Int) -> (values: Tensor, indices: [Int32]) {
        let (outer, size, inner) = x.split(at: axis)
        precondition(size > 0, "max over an empty axis")
        var shape = x.shape
        shape.remove(at: axis)
        let out = Tensor(zeros: shape, dtype: x.dtype)
        var indices = [Int32](repeating: 0, count: outer * inner)
        switch x.dtype {
        case .float32: Reference.reduceMax(Float.self, x, out, &indices, outer: outer, size: size, inner: inner)
        case .float64: Reference.reduceMax(Double.self, x, out, &indices, outer: outer, size: size, inner: inner)
        }
        record("reduce.max", inputs: [x], output: out)
        return (out, indices)
    }

    /// Repeats `reduced` `count` times along a new axis `axis` (the adjoint of reduceSum).
    public func broadcast(_ reduced: Tensor, axis: Int, count: Int) -> Tensor {
        var shape = reduced.shape
        shape.insert(count, at: axis)
        let out = Tensor(uninitialized: shape, dtype: reduced.dtype)
        let (outer, size, inner) = out.split(at: axis)
        switch reduced.dtype {
        case .float32: Reference.broadcast(Float.self, reduced, out, outer: outer, size: size, inner: inner)
        case .float64: Reference.broadcast(Double.self, reduced, out, outer: outer, size: size, inner: inner)
        }
        record("broadcast", inputs: [reduced], output: out)
        return out
    }

    /// Scatters `gradient` into the argmax positions of a reduceMax (the adjoint of reduceMax).
    public func scatterMax(_ gradient: Tensor, indices: [Int32], axis: Int, size: Int) -> Tensor {
        var shape = gradient.shape
        shape.insert(size, at: axis)
        let out = Tensor(zeros: shape, dtype: gradient.dtype)
        let (outer, _, inner) = out.split(at: axis)
        switch gradient.dtype {
        case .float32: Reference.scatterMax(Float.self, gradient, indices, out, outer: outer, size: size, inner: inner)
        case .float64: Reference.scatterMax(Double.self, gradient, indices, out, outer: outer, size: size, inner: inner)
        }
        record("scatter_max", inputs: [gradient], output: out)
        return out
    }
}

extension Tensor {
    /// (product of axes before, size of axis, product of axes after).
    public func split(at axis: Int) -> (outer: Int, size: Int, inner: Int) {
        precondition(axis >= 0 && axis < rank, "axis \(axis) out of range for shape \(shape)")
        return (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
    }
}

extension Reference {
    static func reduceSum<T: KernelScalar>(_: T.Type, _ x: Tensor, _ out: Tensor, outer: Int, size: Int, inner: Int) {
        let px = x.scalars(T.self), po = out.mutableScalars(T.self)
        var acc = [Double](repeating: 0, count: inner)
        for o in 0..<outer {
            for i in 0..<inner { acc[i] = 0 }
            for s in 0..<size {
                let base = (o * size + s) * inner
                for i in 0..<inner { acc[i] += Double(px[base + i]) }
            }
            for i in 0..<inner { po[o * inner + i] = T(acc[i]) }
        }
    }

    static func reduceMax<T: KernelScalar>(_: T.Type, _ x: Tensor, _ out: Tensor, _ indices: inout [Int32], outer: Int, size: Int, inner: Int) {
        let px = x.scalars(T.self), po = out.mutableScalars(T.self)
        for o in 0..<outer {
            for i in 0..<inner {
                var best = px[o * size * inner + i], arg = 0
                for s in 1..<max(size, 1) where px[(o * size + s) * inner + i] > best {
                    best = px[(o * size + s) * inner + i]
                    arg = s
                }
                po[o * inner + i] = best
                indices[o * inner + i] = Int32(arg)
            }
        }
    }

    static func broadcast<T: KernelScalar>(_: T.Type, _ reduced: Tensor, _ out: Tensor, outer: Int, size: Int, inner: Int) {
        let pr = reduced.scalars(T.self), po = out.mutableScalars(T.self)
        for o in 0..<outer {
            for s in 0..<size {
                let base = (o * size + s) * inner
                for i in 0..<inner { po[base + i] = pr[o * inner + i] }
            }
        }
    }

    static func scatterMax<T: KernelScalar>(_: T.Type, _ g: Tensor, _ indices: [Int32], _ out: Tensor, outer: Int, size: Int, inner: Int) {
        let pg = g.scalars(T.self), po = out.mutableScalars(T.self)
        for o in 0..<outer {
            for i in 0..<inner {
                po[(o * size + Int(indices[o * inner + i])) * inner + i] = pg[o * inner + i]
            }
        }
    }
}
