import Foundation

/// Which NCA a run computes (README.md, “Choices where the sources are silent”, gotcha G8).
public enum NCAForm: Sendable {
    /// What [POD] `inclearn/lib/losses/base.py` `additive_margin_softmax_ce` (l.43-104) with
    /// `exclude_pos_denominator: true` computes: u_c = η(ŝ_c − δ) for *every* class (so δ
    /// cancels), M = max_c u_c (differentiable, as `similarities.max(1)[0]` is), and
    ///   L_b = −(u_y − M) + log(1 + Σ_{c≠y} exp(u_c − M)),
    /// the "1" being the target position zeroed by `disable_pos`; mean over b, no hinge.
    case reference
    /// The PODNet paper's formula: L_b = [−η(ŝ_y − δ) + log Σ_{c≠y} exp(η ŝ_c)]_+, margin on
    /// the positive only, positive excluded from the denominator, hinge per sample; mean over b.
    case paper
}

/// PODNet's NCA loss over class scores, one op with a hand-written backward (the batch is
/// [B, C] with C ≤ 1000, so plain loops cost nothing next to the backbone).
extension Graph {
    /// Mean NCA loss of class scores `scores` [B, C] against `labels`, with learned scale
    /// `scale` (a one-element value) and margin `margin`.
    public func ncaLoss(_ scores: Var, scale: Var, labels: [Int32], margin: Double, form: NCAForm) -> Var {
        let s = self[scores], eta = self[scale]
        precondition(s.rank == 2 && s.shape[0] == labels.count && eta.count == 1, "nca of \(s.shape) with \(labels.count) labels, scale \(eta.shape)")
        let rows = s.shape[0], classes = s.shape[1]
        precondition(labels.allSatisfy { $0 >= 0 && Int($0) < classes }, "nca label outside \(classes) classes")
        let values = s.doubles, h = eta.scalarValue
        var gradScores = [Double](repeating: 0, count: rows * classes)
        var gradScale = 0.0, total = 0.0
        for b in 0..<rows {
            let y = Int(labels[b]), base = b * classes
            // dL_b/du_c (u_c the scaled, margin-shifted score) in both forms.
            var du = [Double](repeating: 0, count: classes)
            let shifted: [Double]
            switch form {
            case .reference:
                shifted = (0..<classes).map { h * (values[base + $0] - margin) }
                var top = 0
                for c in 1..<Swift.max(classes, 1) where shifted[c] > shifted[top] { top = c }
                let m = shifted[top]
                var denominator = 1.0
                for c in 0..<classes where c != y { denominator += Foundation.exp(shifted[c] - m) }
                total += -(shifted[y] - m) + Foundation.log(denominator)
                du[y] -= 1
                var sumZ = -1.0                   // Σ_c dL/dz_c, routed to the maximum through M
                for c in 0..<classes where c != y {
                    let p = Foundation.exp(shifted[c] - m) / denominator
                    du[c] += p
                    sumZ += p
                }
                du[top] -= sumZ
                for c in 0..<classes {
                    gradScores[base + c] = du[c] * h
                    gradScale += du[c] * (values[base + c] - margin)
                }
            case .paper:
                shifted = (0..<classes).map { h * (values[base + $0] - ($0 == y ? margin : 0)) }
                var m = -Double.infinity
                for c in 0..<classes where c != y { m = Swift.max(m, shifted[c]) }
                guard m > -Double.infinity else { continue }      // one class: nothing to push away
                var sum = 0.0
                for c in 0..<classes where c != y { sum += Foundation.exp(shifted[c] - m) }
                let loss = -shifted[y] + m + Foundation.log(sum)
                guard loss > 0 else { continue }                   // the hinge [·]_+
                total += loss
                du[y] = -1
                for c in 0..<classes where c != y { du[c] = Foundation.exp(shifted[c] - m) / sum }
                for c in 0..<classes {
                    gradScores[base + c] = du[c] * h
                    gradScale += du[c] * (values[base + c] - (c == y ? margin : 0))
                }
            }
        }
        let n = Double(Swift.max(rows, 1))
        let out = Self.tensor([total / n], shape: [], like: s)
        return record(out, inputs: [scores, scale]) { g, dy in
            let k = dy.scalarValue / n
            if g.requiresGradient(scores) { g.accumulate(scores, Self.tensor(gradScores.map { $0 * k }, shape: s.shape, like: s)) }
            if g.requiresGradient(scale) { g.accumulate(scale, Self.tensor([gradScale * k], shape: eta.shape, like: eta)) }
        }
    }
}
