/// Differentiable losses. Distillation terms (KL, feature distances, margins) compose from
/// these and the elementwise and reduction ops.
extension Graph {
    /// Mean softmax cross-entropy of [N, C] logits against integer labels.
    public func crossEntropy(_ logits: Var, labels: [Int32]) -> Var {
        let (loss, probabilities) = engine.softmaxCrossEntropy(self[logits], labels: labels)
        return record(loss, inputs: [logits]) { g, dy in
            g.accumulate(logits, g.engine.softmaxCrossEntropyBackward(probabilities: probabilities, labels: labels, gradLoss: dy.scalarValue))
        }
    }

    public func logSoftmax(_ x: Var) -> Var {
        let out = engine.logSoftmax(self[x])
        return record(out, inputs: [x]) { g, dy in g.accumulate(x, g.engine.logSoftmaxBackward(dy, output: out)) }
    }

    public func softmax(_ x: Var) -> Var { exp(logSoftmax(x)) }

    /// Elementwise binary cross-entropy on logits with (soft) targets.
    public func binaryCrossEntropyWithLogits(_ logits: Var, targets: Var) -> Var {
        let vx = self[logits], vt = self[targets]
        return record(engine.binaryCrossEntropyWithLogits(vx, targets: vt), inputs: [logits, targets]) { g, dy in
            let grads = g.engine.binaryCrossEntropyWithLogitsBackward(dy, logits: vx, targets: vt)
            g.accumulate(logits, grads.logits)
            g.accumulate(targets, grads.targets)
        }
    }

    /// KL(p_teacher ‖ p_student) summed over classes and averaged over rows, with both
    /// distributions softened by temperature T: the LwF/iCaRL-style distillation term
    /// (without the T² factor, which callers apply as their method prescribes).
    public func distillationKL(student: Var, teacher: Var, temperature: Double) -> Var {
        let logStudent = logSoftmax(scale(student, by: 1 / temperature))
        let logTeacher = logSoftmax(scale(teacher, by: 1 / temperature))
        let pTeacher = exp(logTeacher)
        let perElement = multiply(pTeacher, subtract(logTeacher, logStudent))
        return scale(sum(perElement), by: 1 / Double(Swift.max(self[student].shape[0], 1)))
    }
}
