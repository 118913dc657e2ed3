/// The headline numbers of a run, per classifier. Each name says which average it is,
/// because "accuracy" in CIL papers means at least three different things (final vs average
/// incremental, task-averaged vs sample-weighted, and CNN vs NME, [Issue #42]).
extension AccuracyMatrix {
    /// The AANets Table 1 metric: (1/(N+1)) Σ_{k=0..N} A_k, the mean of the sample-weighted
    /// accuracy on all seen classes over the N+1 evaluations, **phase 0 included**
    /// ([AAN] `trainer/trainer.py` l.182-184; [POD] `inclearn/lib/metrics.py`
    /// `incremental_accuracy`).
    public var averageIncrementalAccuracy: Double {
        (0...lastPhase).map(accuracyOnSeenClasses(afterPhase:)).reduce(0, +) / Double(phaseCount)
    }

    /// The same mean over phases, of the phase-averaged accuracy instead of the
    /// sample-weighted one. Equal to `averageIncrementalAccuracy` only when every phase has
    /// the same number of test images; never what the paper reports.
    public var averageIncrementalAccuracyOfPhaseAverages: Double {
        (0...lastPhase).map(phaseAveragedAccuracy(afterPhase:)).reduce(0, +) / Double(phaseCount)
    }

    /// A_N: sample-weighted accuracy on all classes after the last phase ("final accuracy").
    public var lastPhaseAccuracy: Double { accuracyOnSeenClasses(afterPhase: lastPhase) }

    /// A_k for k = 0...N, the accuracy curve.
    public var accuracyCurve: [Double] { (0...lastPhase).map(accuracyOnSeenClasses(afterPhase:)) }
}
