/// What the runner measured in one phase.
public struct PhaseRecord: Sendable, Codable, Equatable {
    public var phase: Int
    public var seenClasses: Int
    /// Top-1 accuracy (fraction) on the test images of all seen classes.
    public var cnnAccuracy: Double
    /// Nearest-mean-of-exemplars accuracy; nil for methods that keep no exemplars.
    public var nmeAccuracy: Double?
    /// Row k of the accuracy matrix: accuracy on the classes introduced in phase j ≤ k.
    public var cnnAccuracyByPhase: [Double]
    public var nmeAccuracyByPhase: [Double]?
    public var parameterDigest: UInt64
    public var exemplarDigest: UInt64
    public var predictionDigest: UInt64
    public var epochs: [EpochRecord]
    public var wallSeconds: Double

    /// Accuracy on the phase-0 classes (the Mnemonics/AANets forgetting rate uses it).
    public var cnnPhaseZeroAccuracy: Double { cnnAccuracyByPhase[0] }
    public var nmePhaseZeroAccuracy: Double? { nmeAccuracyByPhase?[0] }
}

/// One epoch's training log line.
public struct EpochRecord: Sendable, Codable, Equatable {
    public var epoch: Int
    public var learningRate: Double
    public var loss: Double
    public var imagesPerSecond: Double
    /// The aggregation weights after the epoch's α pass (AANets only).
    public var alphas: [Double]?
}
