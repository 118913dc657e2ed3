/// Row-wise log-softmax, softmax cross-entropy and binary cross-entropy with logits over
/// [N, C] logits. Row maxima are subtracted first, and sums run in Double, for stability.
extension ComputeEngine {
    public func logSoftmax(_ x: Tensor) -> Tensor {
        precondition(x.rank == 2, "logSoftmax expects [N, C], got \(x.shape)")
        let out = Tensor(uninitialized: x.shape, dtype: x.dtype)
        switch x.dtype {
        case .float32: Reference.logSoftmax(Float.self, x, out)
        case .float64: Reference.logSoftmax(Double.self, x, out)
        }
        record("log_softmax", inputs: [x], output: out)
        return out
    }

    /// dx = g − softmax(x) · Σ_row g, from the forward's output y = logSoftmax(x).
    public func logSoftmaxBackward(_ gradOutput: Tensor, output: Tensor) -> Tensor {
        let out = Tensor(uninitialized: output.shape, dtype: output.dtype)
        switch output.dtype {
        case .float32: Reference.logSoftmaxBackward(Float.self, gradOutput, output, out)
        case .float64: Reference.logSoftmaxBackward(Double.self, gradOutput, output, out)
        }
        record("log_softmax.backward", inputs: [gradOutput, output], output: out)
        return out
    }

    /// Mean over rows of −log softmax(x)[label]. Returns the loss and the softmax
    /// probabilities the backward needs.
    public func softmaxCrossEntropy(_ logits: Tensor, labels: [Int32]) -> (loss: Tensor, probabilities: Tensor) {
        precondition(logits.rank == 2 && logits.shape[0] == labels.count, "cross-entropy: logits \(logits.shape) vs \(labels.count) labels")
        let classes = logits.shape[1]
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classes }, "cross-entropy: label outside 0..<\(classes)")
        let logProbabilities = logSoftmax(logits)
        let probabilities = unary(.exp, logProbabilities)
        var total = 0.0
        let lp = logProbabilities.doubles
        for (row, label) in labels.enumerated() { total -= lp[row * classes + Int(label)] }
        let loss = Tensor(filled: labels.isEmpty ? 0 : total / Double(labels.count), shape: [], dtype: logits.dtype)
        record("cross_entropy", inputs: [logits], output: loss)
        return (loss, probabilities)
    }

    /// d loss / d logits = (softmax − onehot) · g / N.
    public func softmaxCrossEntropyBackward(probabilities: Tensor, labels: [Int32], gradLoss: Double) -> Tensor {
        let out = Tensor(uninitialized: probabilities.shape, dtype: probabilities.dtype)
        switch probabilities.dtype {
        case .float32: Reference.crossEntropyBackward(Float.self, probabilities, labels, gradLoss, out)
        case .float64: Reference.crossEntropyBackward(Double.self, probabilities, labels, gradLoss, out)
        }
        record("cross_entropy.backward", inputs: [probabilities], output: out)
        return out
    }

    /// Elementwise max(x,0) − x·t + log(1 + exp(−|x|)), the stable form of BCE on logits.
    public func binaryCrossEntropyWithLogits(_ logits: Tensor, targets: Tensor) -> Tensor {
        precondition(logits.shape == targets.shape)
        let out = Tensor(uninitialized: logits.shape, dtype: logits.dtype)
        switch logits.dtype {
        case .float32: Reference.bceWithLogits(Float.self, logits, targets, out)
        case .float64: Reference.bceWithLogits(Double.self, logits, targets, out)
        }
        record("bce_with_logits", inputs: [logits, targets], output: out)
        return out
    }

    /// Gradients of the elementwise BCE: (σ(x) − t)·g for the logits, −x·g for the targets.
    public func binaryCrossEntropyWithLogitsBackward(_ gradOutput: Tensor, logits: Tensor, targets: Tensor) -> (logits: Tensor, targets: Tensor) {
        let dx = Tensor(uninitialized: logits.shape, dtype: logits.dtype)
        let dt = Tensor(uninitialized: logits.shape, dtype: logits.dtype)
        switch logits.dtype {
        case .float32: Reference.bceWithLogitsBackward(Float.self, gradOutput, logits, targets, dx, dt)
        case .float64: Reference.bceWithLogitsBackward(Double.self, gradOutput, logits, targets, dx, dt)
        }
        record("bce_with_logits.backward", inputs: [gradOutput, logits, targets], output: dx)
        return (dx, dt)
    }
}

extension Reference {
    static func logSoftmax<T: KernelScalar>(_: T.Type, _ x: Tensor, _ out: Tensor) {
        let px = x.scalars(T.self), po = out.mutableScalars(T.self)
        let rows = x.shape[0], cols = x.shape[1]
        for r in 0..<rows {
            let base = r * cols
            var m = -T.infinity
            for c in 0..<cols { m = Swift.max(m, px[base + c]) }
            var sum = 0.0
            for c in 0..<cols { sum += Double(T.exp(px[base + c] - m)) }
            let logSum = m + T(Double.log(sum))
            for c in 0..<cols { po[base + c] = px[base + c] - logSum }
        }
    }

    static func logSoftmaxBackward<T: KernelScalar>(_: T.Type, _ g: Tensor, _ y: Tensor, _ out: Tensor) {
        let pg = g.scalars(T.self), py = y.scalars(T.self), po = out.mutableScalars(T.self)
        let rows = y.shape[0], cols = y.shape[1]
        for r in 0..<rows {
            let base = r * cols
            var sum = 0.0
            for c in 0..<cols { sum += Double(pg[base + c]) }
            for c in 0..<cols { po[base + c] = pg[base + c] - T.exp(py[base + c]) * T(sum) }
        }
    }

    static func crossEntropyBackward<T: KernelScalar>(_: T.Type, _ p: Tensor, _ labels: [Int32], _ gradLoss: Double, _ out: Tensor) {
        let pp = p.scalars(T.self), po = out.mutableScalars(T.self)
        let rows = p.shape[0], cols = p.shape[1]
        let scale = T(gradLoss / Double(max(rows, 1)))
        for r in 0..<rows {
            for c in 0..<cols { po[r * cols + c] = pp[r * cols + c] * scale }
            po[r * cols + Int(labels[r])] -= scale
        }
    }

    static func bceWithLogits<T: KernelScalar>(_: T.Type, _ x: Tensor, _ t: Tensor, _ out: Tensor) {
        let px = x.scalars(T.self), pt = t.scalars(T.self), po = out.mutableScalars(T.self)
        for i in 0..<px.count {
            let v = px[i]
            po[i] = Swift.max(v, 0) - v * pt[i] + T.log1p(T.exp(-Swift.abs(v)))
        }
    }

    static func bceWithLogitsBackward<T: KernelScalar>(_: T.Type, _ g: Tensor, _ x: Tensor, _ t: Tensor, _ dx: Tensor, _ dt: Tensor) {
        let pg = g.scalars(T.self), px = x.scalars(T.self), pt = t.scalars(T.self)
        let pdx = dx.mutableScalars(T.self), pdt = dt.mutableScalars(T.self)
        for i in 0..<px.count {
            let sigmoid = 1 / (1 + T.exp(-px[i]))
            pdx[i] = (sigmoid - pt[i]) * pg[i]
            pdt[i] = -px[i] * pg[i]
        }
    }
}
