/// Every end-of-run number of one classifier, computed once from its accuracy matrix for
/// summaries, tables and diffs. Percentages (points).
public struct ClassifierMetrics: Sendable, Hashable, Codable {
    /// See `AccuracyMatrix.averageIncrementalAccuracy` (the AANets Table 1 metric).
    public var averageIncrementalAccuracy: Double
    /// See `AccuracyMatrix.averageIncrementalAccuracyOfPhaseAverages`.
    public var averageIncrementalAccuracyOfPhaseAverages: Double
    /// A_N.
    public var lastPhaseAccuracy: Double
    /// a[0][0] − a[N][0], positive = forgetting.
    public var mnemonicsForgettingRate: Double
    /// Chaudhry F_N, positive = forgetting; nil for a single phase.
    public var chaudhryAverageForgetting: Double?
    /// Lopez-Paz BWT, negative = forgetting; nil for a single phase.
    public var backwardTransfer: Double?

    public init(_ m: AccuracyMatrix) {
        averageIncrementalAccuracy = m.averageIncrementalAccuracy
        averageIncrementalAccuracyOfPhaseAverages = m.averageIncrementalAccuracyOfPhaseAverages
        lastPhaseAccuracy = m.lastPhaseAccuracy
        mnemonicsForgettingRate = m.mnemonicsForgettingRate
        chaudhryAverageForgetting = m.chaudhryAverageForgetting
        backwardTransfer = m.backwardTransfer
    }
}
