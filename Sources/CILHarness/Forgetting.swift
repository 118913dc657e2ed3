/// Forgetting, in the three definitions that circulate (Mnemonics, CVPR 2020; Chaudhry et
/// al., ECCV 2018; Lopez-Paz & Ranzato, NeurIPS 2017). They measure
/// different things and have different signs; the names keep them apart.
extension AccuracyMatrix {
    /// k ↦ a[k][0] for k = 0...N: accuracy on the base classes after every phase.
    public var forgettingCurve: [Double] { (0...lastPhase).map(phase0ClassAccuracy(afterPhase:)) }

    /// Mnemonics/AANets "forgetting rate": a[0][0] − a[N][0], the drop in base-class
    /// accuracy from phase 0 to the last phase. Positive means forgetting; lower is better
    /// (the Mnemonics paper's definition; [AAN] records its input, `top1_acc_list_ori`, in
    /// `trainer/base_trainer.py` l.786; [ACIL] prints the opposite sign).
    public var mnemonicsForgettingRate: Double {
        phase0ClassAccuracy(afterPhase: 0) - phase0ClassAccuracy(afterPhase: lastPhase)
    }

    /// Chaudhry et al. (RWalk, ECCV 2018) average forgetting after phase k:
    /// F_k = (1/k) Σ_{j<k} (max_{l∈j..k−1} a[l][j] − a[k][j]), each earlier phase counting
    /// once. Positive means forgetting. nil after phase 0.
    public func chaudhryForgetting(afterPhase k: Int) -> Double? {
        guard k > 0 else { return nil }
        var sum = 0.0
        for j in 0..<k {
            let best = (j..<k).map { accuracy(afterPhase: $0, onClassesOfPhase: j) }.max()!
            sum += best - accuracy(afterPhase: k, onClassesOfPhase: j)
        }
        return sum / Double(k)
    }

    /// F_N, the Chaudhry average forgetting reported at the end of a run; nil for a
    /// single-phase run.
    public var chaudhryAverageForgetting: Double? { chaudhryForgetting(afterPhase: lastPhase) }

    /// Lopez-Paz & Ranzato (GEM, 2017) backward transfer:
    /// BWT = (1/N) Σ_{j<N} (a[N][j] − a[j][j]). **Negative** means forgetting. nil for a
    /// single-phase run.
    public var backwardTransfer: Double? {
        guard lastPhase > 0 else { return nil }
        let n = lastPhase
        let sum = (0..<n).map { accuracy(afterPhase: n, onClassesOfPhase: $0) - accuracy(afterPhase: $0, onClassesOfPhase: $0) }
            .reduce(0, +)
        return sum / Double(n)
    }
}
