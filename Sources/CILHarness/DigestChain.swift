import CILKernels
import CILNetworks
import Foundation

/// The per-phase digest chain every run keeps, trace or not: after every optimiser step
/// (training and AANets' α pass) the digest of all parameters is folded into a running
/// digest, and the running value is stored at the end of each epoch's training and α pass.
/// Replay without a full trace compares these links and names the first epoch (and stage)
/// whose parameters left the recorded path.
///
/// Why parameters and not every kernel output: digesting each output is one more pass over
/// every activation (measured at several percent of a step), while the parameters after a
/// step depend on every kernel of the step and cost one pass over ~2 MB (well under 1%).
public struct ChainLink: Sendable, Codable, Equatable {
    public enum Stage: String, Sendable, Codable { case training, alpha }
    public var phase: Int
    public var epoch: Int
    public var stage: Stage
    /// Optimiser steps folded in during this epoch's stage.
    public var steps: Int
    /// The running chain value after those steps (it starts afresh in every phase).
    public var digest: UInt64

    public init(phase: Int, epoch: Int, stage: Stage, steps: Int, digest: UInt64) {
        self.phase = phase
        self.epoch = epoch
        self.stage = stage
        self.steps = steps
        self.digest = digest
    }

    private enum CodingKeys: String, CodingKey { case phase, epoch, stage, steps, digest }

    // The digest as 16 hex digits, as everywhere in bundles and checkpoints.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let text = try c.decode(String.self, forKey: .digest)
        guard text.count == 16, let value = UInt64(text, radix: 16) else {
            throw DecodingError.dataCorruptedError(forKey: .digest, in: c, debugDescription: "not a 16-digit hex digest: \(text)")
        }
        self.init(phase: try c.decode(Int.self, forKey: .phase), epoch: try c.decode(Int.self, forKey: .epoch),
                  stage: try c.decode(Stage.self, forKey: .stage), steps: try c.decode(Int.self, forKey: .steps), digest: value)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(phase, forKey: .phase)
        try c.encode(epoch, forKey: .epoch)
        try c.encode(stage, forKey: .stage)
        try c.encode(steps, forKey: .steps)
        try c.encode(hex16(digest), forKey: .digest)
    }
}

/// The running state of one phase's chain.
struct DigestChain {
    let phase: Int
    private(set) var value: UInt64
    private(set) var links: [ChainLink] = []
    private var stepsSinceLink = 0
    /// Time spent digesting, for the overhead figure in `cilbench run --trace`'s report.
    private(set) var nanoseconds: UInt64 = 0

    init(phase: Int) {
        self.phase = phase
        value = Digest.combine(Digest.fnv1a("chain"), UInt64(phase))
    }

    mutating func step(_ parameters: [Parameter]) {
        let start = DispatchTimeNanos.now()
        value = Digest.combine(value, parameterDigest(parameters))
        stepsSinceLink += 1
        nanoseconds += DispatchTimeNanos.now() - start
    }

    mutating func link(epoch: Int, stage: ChainLink.Stage) -> ChainLink {
        let l = ChainLink(phase: phase, epoch: epoch, stage: stage, steps: stepsSinceLink, digest: value)
        links.append(l)
        stepsSinceLink = 0
        return l
    }
}

/// Monotonic nanoseconds without importing Dispatch's types into every file.
enum DispatchTimeNanos {
    static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) * 1_000_000_000 + UInt64(t.tv_nsec)
    }
}
