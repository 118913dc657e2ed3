import Foundation
import CILKernels

/// Everything one run produced and depended on, in memory: what a result bundle holds.
/// The runner fills it; `ResultBundle` writes and reads it.
public struct RunResult: Sendable, Equatable {
    /// cilbench's version and the git revision it was built from (passed in by the runner).
    public var cilbenchVersion: String
    public var gitRevision: String
    public var protocolName: String
    /// `CILProtocol.canonicalText` and `.fingerprint` of the protocol as run.
    public var protocolCanonicalText: String
    public var protocolFingerprint: String
    /// `--set` overrides, in order.
    public var protocolOverrides: [String]
    public var method: String
    /// Whether the AANets plug-in was on.
    public var aanets: Bool
    /// Every setting the run depended on (`CILProtocol.resolvedSettings`), path → value.
    public var hyperParameters: [String: String]
    public var seed: Int
    /// The class order's dataset labels, in learning order.
    public var classOrder: [Int]
    /// Digest of the training and test data as loaded (the runner's choice of digest).
    public var datasetDigest: String
    /// OS, CPU, engine ISA and libraries, threads, Swift version (`RunEnvironment`).
    public var environment: [String: String]
    /// Wall-clock start and end, to the second.
    public var startedAt: Date
    public var finishedAt: Date
    /// One record per phase, phase 0 first.
    public var phases: [PhaseRecord]
    /// The CNN head's and the NME classifier's results.
    public var cnn: AccuracyMatrix
    /// Nil for methods that keep no exemplars, where nearest-mean-of-exemplars is undefined.
    public var nme: AccuracyMatrix?
    /// One record per training epoch, in order.
    public var log: [EpochRecord]
    /// The digest chain's links, phase by phase (`chain.csv`; empty for bundles written
    /// before chains existed, and for phases restored from a checkpoint of such a build).
    public var chain: [ChainLink] = []
    /// Present when the bundle holds a full kernel trace (`trace.zst`, `run --trace`).
    public var trace: TraceInfo?

    public init(cilbenchVersion: String, gitRevision: String, protocolName: String, protocolCanonicalText: String,
                protocolFingerprint: String, protocolOverrides: [String], method: String, aanets: Bool,
                hyperParameters: [String: String], seed: Int, classOrder: [Int], datasetDigest: String,
                environment: [String: String], startedAt: Date, finishedAt: Date, phases: [PhaseRecord],
                cnn: AccuracyMatrix, nme: AccuracyMatrix?, log: [EpochRecord]) {
        self.cilbenchVersion = cilbenchVersion
        self.gitRevision = gitRevision
        self.protocolName = protocolName
        self.protocolCanonicalText = protocolCanonicalText
        self.protocolFingerprint = protocolFingerprint
        self.protocolOverrides = protocolOverrides
        self.method = method
        self.aanets = aanets
        self.hyperParameters = hyperParameters
        self.seed = seed
        self.classOrder = classOrder
        self.datasetDigest = datasetDigest
        self.environment = environment
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.phases = phases
        self.cnn = cnn
        self.nme = nme
        self.log = log
    }

    /// Fills the protocol fields from a resolved protocol.
    public init(protocol p: CILProtocol, method: String, aanets: Bool, seed: Int, cilbenchVersion: String, gitRevision: String,
                datasetDigest: String, environment: [String: String], startedAt: Date, finishedAt: Date,
                phases: [PhaseRecord], cnn: AccuracyMatrix, nme: AccuracyMatrix?, log: [EpochRecord]) {
        self.init(cilbenchVersion: cilbenchVersion, gitRevision: gitRevision, protocolName: p.name,
                  protocolCanonicalText: p.canonicalText, protocolFingerprint: p.sharedFingerprint, protocolOverrides: p.overrides,
                  method: method, aanets: aanets, hyperParameters: p.resolvedSettings(method: method, aanets: aanets), seed: seed,
                  classOrder: p.classOrder.labels, datasetDigest: datasetDigest, environment: environment,
                  startedAt: startedAt, finishedAt: finishedAt, phases: phases, cnn: cnn, nme: nme, log: log)
    }

    /// The settings of the run's method and of the AANets plug-in (`method.*`, `aanets.*`
    /// of `hyperParameters`) as sorted `key = value` lines; runs compare only when equal.
    public var methodSettings: [String] {
        hyperParameters.filter { $0.key.hasPrefix("method.") || $0.key.hasPrefix("aanets") }
            .map { "\($0.key) = \($0.value)" }.sorted()
    }

    /// Digest (hex, 16 digits) of `methodSettings`.
    public var methodSettingsDigest: String {
        Digest.hex(methodSettings.reduce(Digest.fnv1a("method-settings")) { Digest.combine($0, Digest.fnv1a($1)) })
    }

    /// `lucir` or `lucir+aanets`: the method as it appears in paths and tables.
    public var methodLabel: String { aanets ? "\(method)+aanets" : method }

    /// Per-classifier end-of-run metrics.
    public var cnnMetrics: ClassifierMetrics { ClassifierMetrics(cnn) }
    public var nmeMetrics: ClassifierMetrics? { nme.map(ClassifierMetrics.init) }

    /// The inconsistencies that make a result unusable, nil when there are none.
    public var inconsistency: String? {
        if let nme, cnn.phaseCount != nme.phaseCount { return "CNN has \(cnn.phaseCount) phases, NME \(nme.phaseCount)" }
        if let nme, cnn.testImages != nme.testImages { return "CNN and NME were scored on different test sets" }
        if phases.count != cnn.phaseCount { return "\(phases.count) phase records for \(cnn.phaseCount) evaluated phases" }
        for (k, p) in phases.enumerated() where p.phase != k { return "phase record \(k) is labelled phase \(p.phase)" }
        return nil
    }
}

/// What a phase left behind besides accuracies.
public struct PhaseRecord: Sendable, Equatable {
    public var phase: Int
    /// Classes seen after this phase.
    public var classesSeen: Int
    /// Wall time of the phase (training, exemplar selection, evaluation), seconds.
    public var wallSeconds: Double
    /// Digest of every network parameter after the phase (`CILKernels.Digest`).
    public var parameterDigest: UInt64
    /// Digest of the exemplar memory's sample indices after the phase.
    public var exemplarDigest: UInt64
    /// Digest of the CNN and NME predictions on the test images.
    public var predictionDigest: UInt64

    public init(phase: Int, classesSeen: Int, wallSeconds: Double, parameterDigest: UInt64, exemplarDigest: UInt64, predictionDigest: UInt64) {
        self.phase = phase
        self.classesSeen = classesSeen
        self.wallSeconds = wallSeconds
        self.parameterDigest = parameterDigest
        self.exemplarDigest = exemplarDigest
        self.predictionDigest = predictionDigest
    }
}

/// One training epoch, for `log.jsonl`.
public struct EpochRecord: Sendable, Equatable, Codable {
    public var phase: Int
    public var epoch: Int
    /// Mean of each loss term over the epoch, by name (e.g. "ce", "distillation").
    public var losses: [String: Double]
    /// Training accuracy over the epoch (percent), if the method measures it.
    public var trainAccuracy: Double?
    public var learningRate: Double
    public var imagesPerSecond: Double
    public var seconds: Double
    /// AANets' aggregation weights after the epoch's α pass, one per level.
    public var alphas: [Double]?

    public init(phase: Int, epoch: Int, losses: [String: Double], trainAccuracy: Double?, learningRate: Double, imagesPerSecond: Double,
                seconds: Double, alphas: [Double]? = nil) {
        self.phase = phase
        self.epoch = epoch
        self.losses = losses
        self.trainAccuracy = trainAccuracy
        self.learningRate = learningRate
        self.imagesPerSecond = imagesPerSecond
        self.seconds = seconds
        self.alphas = alphas
    }
}

extension PhaseRecord: Codable {
    private enum CodingKeys: String, CodingKey {
        case phase, classesSeen, wallSeconds, parameterDigest, exemplarDigest, predictionDigest
    }

    // Digests as 16 hex digits: JSON readers that parse numbers as doubles would round them.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func digest(_ key: CodingKeys) throws -> UInt64 {
            let text = try c.decode(String.self, forKey: key)
            guard text.count == 16, let v = UInt64(text, radix: 16) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a 16-digit hex digest: \(text)")
            }
            return v
        }
        self.init(phase: try c.decode(Int.self, forKey: .phase), classesSeen: try c.decode(Int.self, forKey: .classesSeen),
                  wallSeconds: try c.decode(Double.self, forKey: .wallSeconds), parameterDigest: try digest(.parameterDigest),
                  exemplarDigest: try digest(.exemplarDigest), predictionDigest: try digest(.predictionDigest))
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(phase, forKey: .phase)
        try c.encode(classesSeen, forKey: .classesSeen)
        try c.encode(wallSeconds, forKey: .wallSeconds)
        try c.encode(hex16(parameterDigest), forKey: .parameterDigest)
        try c.encode(hex16(exemplarDigest), forKey: .exemplarDigest)
        try c.encode(hex16(predictionDigest), forKey: .predictionDigest)
    }
}

/// A digest as 16 lower-case hex digits.
func hex16(_ v: UInt64) -> String {
    let s = String(v, radix: 16)
    return String(repeating: "0", count: 16 - s.count) + s
}

extension RunResult: Codable {
    // The epoch log is not part of the manifest: it goes to log.jsonl, one line per epoch.
    private enum CodingKeys: String, CodingKey {
        case cilbenchVersion, gitRevision, protocolName, protocolCanonicalText, protocolFingerprint, protocolOverrides
        case method, aanets, hyperParameters, seed, classOrder, datasetDigest, environment, startedAt, finishedAt
        case phases, cnn, nme, trace
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(cilbenchVersion: try c.decode(String.self, forKey: .cilbenchVersion),
                  gitRevision: try c.decode(String.self, forKey: .gitRevision),
                  protocolName: try c.decode(String.self, forKey: .protocolName),
                  protocolCanonicalText: try c.decode(String.self, forKey: .protocolCanonicalText),
                  protocolFingerprint: try c.decode(String.self, forKey: .protocolFingerprint),
                  protocolOverrides: try c.decode([String].self, forKey: .protocolOverrides),
                  method: try c.decode(String.self, forKey: .method), aanets: try c.decode(Bool.self, forKey: .aanets),
                  hyperParameters: try c.decode([String: String].self, forKey: .hyperParameters),
                  seed: try c.decode(Int.self, forKey: .seed), classOrder: try c.decode([Int].self, forKey: .classOrder),
                  datasetDigest: try c.decode(String.self, forKey: .datasetDigest),
                  environment: try c.decode([String: String].self, forKey: .environment),
                  startedAt: try c.decode(Date.self, forKey: .startedAt), finishedAt: try c.decode(Date.self, forKey: .finishedAt),
                  phases: try c.decode([PhaseRecord].self, forKey: .phases),
                  cnn: try c.decode(AccuracyMatrix.self, forKey: .cnn), nme: try c.decodeIfPresent(AccuracyMatrix.self, forKey: .nme), log: [])
        trace = try c.decodeIfPresent(TraceInfo.self, forKey: .trace)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cilbenchVersion, forKey: .cilbenchVersion)
        try c.encode(gitRevision, forKey: .gitRevision)
        try c.encode(protocolName, forKey: .protocolName)
        try c.encode(protocolCanonicalText, forKey: .protocolCanonicalText)
        try c.encode(protocolFingerprint, forKey: .protocolFingerprint)
        try c.encode(protocolOverrides, forKey: .protocolOverrides)
        try c.encode(method, forKey: .method)
        try c.encode(aanets, forKey: .aanets)
        try c.encode(hyperParameters, forKey: .hyperParameters)
        try c.encode(seed, forKey: .seed)
        try c.encode(classOrder, forKey: .classOrder)
        try c.encode(datasetDigest, forKey: .datasetDigest)
        try c.encode(environment, forKey: .environment)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(phases, forKey: .phases)
        try c.encode(cnn, forKey: .cnn)
        try c.encodeIfPresent(nme, forKey: .nme)
        try c.encodeIfPresent(trace, forKey: .trace)
    }
}

/// What the manifest says about a bundle's full kernel trace.
public struct TraceInfo: Sendable, Codable, Equatable {
    /// Kernel calls recorded (every call of the run, in order).
    public var calls: Int
    /// `KernelTrace` format version.
    public var format: Int
    /// The archive member holding it.
    public var member: String

    public init(calls: Int, format: Int = Int(KernelTrace.version), member: String = KernelTrace.memberName) {
        self.calls = calls
        self.format = format
        self.member = member
    }
}
