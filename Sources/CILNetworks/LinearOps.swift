/// Differentiable matrix products, L2 row normalisation and the heads built on them.
extension Graph {
    /// op(a) · op(b) for 2-d values.
    public func matmul(_ a: Var, _ b: Var, transposeA: Bool = false, transposeB: Bool = false) -> Var {
        let va = self[a], vb = self[b]
        let out = labelled(b) { labelled(a) { engine.matmul(va, vb, transposeA: transposeA, transposeB: transposeB) } }
        return record(out, inputs: [a, b]) { g, dy in g.labelled(b) { g.labelled(a) {
            let e = g.engine
            if g.requiresGradient(a) {
                // C = A·B → dA = dC·Bᵀ; C = Aᵀ·B → dA = B·dCᵀ (and the transposed cases alike).
                let da = transposeA
                    ? e.matmul(vb, dy, transposeA: transposeB, transposeB: true)
                    : e.matmul(dy, vb, transposeA: false, transposeB: !transposeB)
                g.accumulate(a, da)
            }
            if g.requiresGradient(b) {
                let db = transposeB
                    ? e.matmul(dy, va, transposeA: true, transposeB: transposeA)
                    : e.matmul(va, dy, transposeA: !transposeA, transposeB: false)
                g.accumulate(b, db)
            }
        } } }
    }

    /// x · Wᵀ (+ b): a fully-connected layer over [N, D] with W [C, D] and b [C].
    public func linear(_ x: Var, weight: Var, bias: Var?) -> Var {
        let product = matmul(x, weight, transposeB: true)
        guard let bias else { return product }
        let rows = self[x].shape[0]
        let vb = self[bias]
        let broadcastBias = record(engine.broadcast(vb, axis: 0, count: rows), inputs: [bias]) { g, dy in
            g.accumulate(bias, g.engine.reduceSum(dy, axis: 0))
        }
        return add(product, broadcastBias)
    }

    public func l2NormalizeRows(_ x: Var, epsilon: Double = 1e-12) -> Var {
        let (out, norms) = engine.l2NormalizeRows(self[x], epsilon: epsilon)
        return record(out, inputs: [x]) { g, dy in
            g.accumulate(x, g.engine.l2NormalizeRowsBackward(dy, output: out, norms: norms, epsilon: epsilon))
        }
    }

    /// cos(x_n, w_c) for every row pair: normalise(x) · normalise(W)ᵀ.
    public func cosineSimilarity(_ x: Var, _ w: Var) -> Var {
        matmul(l2NormalizeRows(x), l2NormalizeRows(w), transposeB: true)
    }
}
