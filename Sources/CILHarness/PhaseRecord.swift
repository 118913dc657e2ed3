/// What the runner measured in one phase: the bundle's phase record, correct-prediction
/// counts per phase of introduction (one row of the accuracy matrix) and the epoch log.
public struct PhaseOutcome: Sendable, Codable, Equatable {
    public var record: PhaseRecord
    /// cnnCorrect[j]: test images of the classes introduced in phase j ≤ k that the CNN
    /// head classified correctly after this phase.
    public var cnnCorrect: [Int]
    /// The same for nearest-mean-of-exemplars; nil for methods that keep no exemplars.
    public var nmeCorrect: [Int]?
    /// Test images of the classes introduced in each phase j ≤ k.
    public var testImages: [Int]
    public var epochs: [EpochRecord]
    /// The phase's digest chain (nil in checkpoints written before chains existed).
    public var chain: [ChainLink]? = nil

    public var phase: Int { record.phase }
    public var seenClasses: Int { record.classesSeen }
    public var parameterDigest: UInt64 { record.parameterDigest }
    public var predictionDigest: UInt64 { record.predictionDigest }
    public var wallSeconds: Double { record.wallSeconds }

    /// Sample-weighted accuracy (fraction) on the test images of all seen classes.
    public var cnnAccuracy: Double { Self.fraction(cnnCorrect.reduce(0, +), testImages.reduce(0, +)) }
    public var nmeAccuracy: Double? { nmeCorrect.map { Self.fraction($0.reduce(0, +), testImages.reduce(0, +)) } }
    /// Accuracy on the phase-0 classes (the Mnemonics/AANets forgetting rate uses it).
    public var cnnPhaseZeroAccuracy: Double { Self.fraction(cnnCorrect[0], testImages[0]) }
    public var nmePhaseZeroAccuracy: Double? { nmeCorrect.map { Self.fraction($0[0], testImages[0]) } }

    static func fraction(_ a: Int, _ b: Int) -> Double { Double(a) / Double(max(b, 1)) }
}
