import CILMethods

/// What AANets' α optimiser sees as α's gradient (README.md, “Choices where the sources are silent”, G3).
///
/// [AAN] `trainer/incremental_lucir.py` (commit c89f277, the α loop after each epoch's
/// training pass) calls `loss.backward(); fusion_optimizer.step()` with no
/// `fusion_optimizer.zero_grad()`, and the training pass's `tg_optimizer.zero_grad()` does not
/// reach α (α is only in `fusion_optimizer`). So α's `.grad` is the sum of
///   - α's gradient from every training-loss backward of the θ pass (step (b)), and
///   - α's gradient from every α-pass batch so far, the current one included,
/// over every epoch and every phase (the fusion variables persist; the optimiser, and so its
/// momentum buffer, is rebuilt per phase). The iCaRL trainer (`incremental_icarl.py` l.108)
/// and another revision of the LUCIR one (35d4495) zero it before each α batch: that is the
/// `corrected` behaviour, where α steps on the current α batch's gradient alone.
///
/// Our SGD clears every gradient after each step, so the reference sum is kept here, in
/// float64, and handed to the optimiser explicitly.
public struct AlphaGradient: Sendable, Equatable, Codable {
    /// The running sum per α (one per level); nil until a gradient arrived.
    public private(set) var sum: [Double]?
    public let accumulates: Bool

    public init(accumulates: Bool, sum: [Double]? = nil) {
        self.accumulates = accumulates
        self.sum = sum
    }

    /// After a θ-pass backward: with accumulation, α's gradient joins the sum (the θ
    /// optimiser, whose α learning rate is 0, then drops it); without, nothing.
    public mutating func absorbTrainingGradient(_ alphas: [Parameter]) {
        guard accumulates else { return }
        add(alphas)
    }

    /// After an α-pass backward and before the α step: with accumulation, α's gradient
    /// becomes the running sum including this batch; without, it stays this batch's own.
    public mutating func prepareAlphaStep(_ alphas: [Parameter]) {
        guard accumulates else { return }
        add(alphas)
        guard let sum else { return }
        for (p, total) in zip(alphas, sum) {
            p.gradient = Tensor(filled: total, shape: p.value.shape, dtype: p.value.dtype)
        }
    }

    /// One α step as the runner takes it: the gradient as prepared above, then SGD.
    public mutating func step(_ alphas: [Parameter], optimizer: inout SGD) {
        prepareAlphaStep(alphas)
        optimizer.step(alphas)
    }

    private mutating func add(_ alphas: [Parameter]) {
        var total = sum ?? [Double](repeating: 0, count: alphas.count)
        guard total.count == alphas.count else { return }
        for (k, p) in alphas.enumerated() {
            guard let g = p.gradient else { continue }
            total[k] += g.doubles.reduce(0, +)
        }
        sum = total
    }
}
