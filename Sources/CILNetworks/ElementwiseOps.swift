/// Differentiable elementwise ops over same-shape tensors, scalar scaling and AANets'
/// branch aggregation.
extension Graph {
    public func add(_ a: Var, _ b: Var) -> Var {
        record(engine.add(self[a], self[b]), inputs: [a, b]) { g, dy in
            g.accumulate(a, dy)
            g.accumulate(b, dy)
        }
    }

    public func subtract(_ a: Var, _ b: Var) -> Var {
        record(engine.subtract(self[a], self[b]), inputs: [a, b]) { g, dy in
            g.accumulate(a, dy)
            if g.requiresGradient(b) { g.accumulate(b, g.engine.scale(dy, by: -1)) }
        }
    }

    public func multiply(_ a: Var, _ b: Var) -> Var {
        let va = self[a], vb = self[b]
        return record(engine.multiply(va, vb), inputs: [a, b]) { g, dy in
            if g.requiresGradient(a) { g.accumulate(a, g.engine.multiply(dy, vb)) }
            if g.requiresGradient(b) { g.accumulate(b, g.engine.multiply(dy, va)) }
        }
    }

    public func relu(_ x: Var) -> Var {
        let out = engine.relu(self[x])
        return record(out, inputs: [x]) { g, dy in g.accumulate(x, g.engine.reluBackward(dy, output: out)) }
    }

    /// relu(a + b), the residual join of a BasicBlock.
    public func addReLU(_ a: Var, _ b: Var) -> Var {
        let out = engine.addReLU(self[a], self[b])
        return record(out, inputs: [a, b]) { g, dy in
            let d = g.engine.reluBackward(dy, output: out)
            g.accumulate(a, d)
            g.accumulate(b, d)
        }
    }

    /// c · x for a constant c.
    public func scale(_ x: Var, by c: Double) -> Var {
        record(engine.scale(self[x], by: c), inputs: [x]) { g, dy in g.accumulate(x, g.engine.scale(dy, by: c)) }
    }

    /// s · x for a learnable scalar s (a one-element tensor), e.g. the cosine head's σ.
    public func scale(_ x: Var, byScalar s: Var) -> Var {
        let vx = self[x], vs = self[s]
        precondition(vs.count == 1, "scale(byScalar:) needs a one-element scalar, got \(vs.shape)")
        let c = vs.scalarValue
        return record(engine.scale(vx, by: c), inputs: [x, s]) { g, dy in
            if g.requiresGradient(x) { g.accumulate(x, g.engine.scale(dy, by: c)) }
            if g.requiresGradient(s) {
                g.accumulate(s, g.engine.sumAll(g.engine.multiply(dy, vx)).reshaped(vs.shape))
            }
        }
    }

    /// α·stable + (1 − α)·plastic with a learnable scalar α: AANets' aggregation of level k.
    public func aggregate(stable: Var, plastic: Var, alpha: Var) -> Var {
        let vs = self[stable], vp = self[plastic], va = self[alpha]
        precondition(va.count == 1, "aggregation weight must be a scalar, got \(va.shape)")
        let a = va.scalarValue
        let out = engine.axpby(vs, alpha: a, vp, beta: 1 - a)
        return record(out, inputs: [stable, plastic, alpha]) { g, dy in
            if g.requiresGradient(stable) { g.accumulate(stable, g.engine.scale(dy, by: a)) }
            if g.requiresGradient(plastic) { g.accumulate(plastic, g.engine.scale(dy, by: 1 - a)) }
            if g.requiresGradient(alpha) {
                let difference = g.engine.subtract(vs, vp)
                g.accumulate(alpha, g.engine.sumAll(g.engine.multiply(dy, difference)).reshaped(va.shape))
            }
        }
    }

    public func unary(_ function: UnaryFunction, _ x: Var) -> Var {
        let input = self[x]
        let out = engine.unary(function, input)
        return record(out, inputs: [x]) { g, dy in
            g.accumulate(x, g.engine.unaryBackward(function, gradOutput: dy, input: input, output: out))
        }
    }

    public func square(_ x: Var) -> Var { unary(.square, x) }
    public func sqrt(_ x: Var) -> Var { unary(.sqrt, x) }
    public func exp(_ x: Var) -> Var { unary(.exp, x) }
    public func log(_ x: Var) -> Var { unary(.log, x) }
    public func abs(_ x: Var) -> Var { unary(.abs, x) }
    public func clamp(_ x: Var, min: Double, max: Double) -> Var { unary(.clamp(min: min, max: max), x) }

    /// A reshape that keeps the data (views share storage).
    public func reshape(_ x: Var, _ shape: [Int], layout: Layout = .plain) -> Var {
        let original = self[x]
        return record(original.reshaped(shape, layout: layout), inputs: [x]) { g, dy in
            g.accumulate(x, dy.reshaped(original.shape, layout: original.layout))
        }
    }
}
