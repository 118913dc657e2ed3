/// Differentiable sums, means and maxima.
extension Graph {
    public func sum(_ x: Var, axis: Int) -> Var {
        let size = self[x].shape[axis]
        return record(engine.reduceSum(self[x], axis: axis), inputs: [x]) { g, dy in
            g.accumulate(x, g.engine.broadcast(dy, axis: axis, count: size))
        }
    }

    public func mean(_ x: Var, axis: Int) -> Var {
        scale(sum(x, axis: axis), by: 1 / Double(Swift.max(self[x].shape[axis], 1)))
    }

    /// Sum of all elements, as a rank-0 value.
    public func sum(_ x: Var) -> Var {
        let shape = self[x].shape, dtype = self[x].dtype
        return record(engine.sumAll(self[x]), inputs: [x]) { g, dy in
            g.accumulate(x, Tensor(filled: dy.scalarValue, shape: shape, dtype: dtype))
        }
    }

    public func mean(_ x: Var) -> Var { scale(sum(x), by: 1 / Double(Swift.max(self[x].count, 1))) }

    /// Maximum over an axis; the gradient goes to the first maximal element.
    public func max(_ x: Var, axis: Int) -> Var {
        let size = self[x].shape[axis]
        let (values, indices) = engine.reduceMax(self[x], axis: axis)
        return record(values, inputs: [x]) { g, dy in
            g.accumulate(x, g.engine.scatterMax(dy, indices: indices, axis: axis, size: size))
        }
    }
}
