import CILKernels
import Foundation

/// The first place where a replay left the recorded run.
public enum ReplayDivergence: Sendable, CustomStringConvertible {
    /// A kernel call differs from the trace's record of the same sequence number.
    case kernel(recorded: KernelRecord, replayed: KernelRecord, differences: [String])
    /// The replay made a kernel call the trace does not have, or the trace has calls the
    /// replay never made.
    case traceEnded(replayed: KernelRecord)
    case callsMissing(recordedCalls: Int, replayedCalls: Int)
    /// The digest chain (parameters after each step) differs at the end of an epoch's stage.
    case chain(recorded: ChainLink, replayed: ChainLink)
    /// The chain has a link the recorded run does not (or the other way round).
    case chainShape(String)
    /// The end-of-phase digests (parameters, exemplars, predictions) differ.
    case phase(phase: Int, differences: [String])

    public var description: String {
        switch self {
        case .kernel(let recorded, let replayed, let differences):
            var lines = ["first divergent kernel call: #\(replayed.sequence) \(replayed.kind) at \(replayed.context)",
                         "  layer: \(replayed.layer ?? "(not a parameterised layer)")",
                         "  shapes: \(Self.shapes(replayed.shapes))"]
            lines += differences.map { "  \($0)" }
            if recorded.context != replayed.context { lines.append("  (the trace recorded this call at \(recorded.context))") }
            return lines.joined(separator: "\n")
        case .traceEnded(let replayed):
            return "the replay made kernel call #\(replayed.sequence) \(replayed.kind) at \(replayed.context), but the trace ends before it"
        case .callsMissing(let recorded, let replayed):
            return "the trace has \(recorded) kernel calls, the replay made only \(replayed)"
        case .chain(let recorded, let replayed):
            return """
                first divergent chain link: phase \(replayed.phase), epoch \(replayed.epoch), \(replayed.stage.rawValue) \
                (\(replayed.steps) steps): parameters after the epoch's steps are \(Digest.hex(replayed.digest)), recorded \(Digest.hex(recorded.digest))
                  the divergence lies in that epoch's \(replayed.stage.rawValue) steps (or in the phase's start if it is the phase's first link); \
                record the run with `cilbench run --trace` to find the kernel
                """
        case .chainShape(let what):
            return "the digest chain differs in shape: \(what)"
        case .phase(let phase, let differences):
            return "phase \(phase) ends differently: " + differences.joined(separator: "; ")
        }
    }

    static func shapes(_ shapes: [[Int]]) -> String {
        guard let output = shapes.last else { return "-" }
        return shapes.dropLast().map { "\($0)" }.joined(separator: ", ") + " -> \(output)"
    }
}

/// Compares each kernel call of a replay with the next record of the recorded trace, keeping
/// the first divergence. After it, the comparator declines digests, so the rest of the step
/// (until the runner's next mark stops the run) costs nothing extra.
public final class ReplayComparator: KernelObserver {
    private var reader: KernelTrace.Reader
    public private(set) var divergence: ReplayDivergence?
    public private(set) var compared = 0
    public private(set) var traceError: BundleError?
    /// The recorded record of the call being captured, for the capture file.
    public var captureSequence: Int?
    public private(set) var capturedRecord: KernelRecord?
    /// With a capture, keep comparing after a divergence (to find the capture's record).
    public var stopsAtDivergence = true

    public init(trace: KernelTrace.Reader) { reader = trace }

    public var wantsDigests: Bool { (divergence == nil || !stopsAtDivergence) && traceError == nil }

    public func kernelDidRun(_ replayed: KernelRecord) {
        guard wantsDigests else { return }
        let recorded: KernelRecord?
        do { recorded = try reader.next() } catch {
            traceError = error
            return
        }
        guard let recorded else {
            if divergence == nil { divergence = .traceEnded(replayed: replayed) }
            return
        }
        if replayed.sequence == captureSequence { capturedRecord = recorded }
        compared += 1
        guard divergence == nil else { return }
        let differences = Self.differences(recorded: recorded, replayed: replayed)
        if !differences.isEmpty { divergence = .kernel(recorded: recorded, replayed: replayed, differences: differences) }
    }

    /// At the end of a complete replay: records left over in the trace are a divergence.
    public func finish() throws(BundleError) {
        if let traceError { throw traceError }
        guard divergence == nil else { return }
        var extra = 0
        while try reader.next() != nil { extra += 1 }
        if extra > 0 { divergence = .callsMissing(recordedCalls: compared + extra, replayedCalls: compared) }
    }

    /// What differs between two records of the same call, most telling first: the kind or
    /// shapes (the run took another path), an input (something before this call, possibly
    /// outside the kernels, diverged), or only the output (this kernel computed other bits
    /// from identical inputs: the library, the CPU or the thread count).
    static func differences(recorded r: KernelRecord, replayed p: KernelRecord) -> [String] {
        if r.kind != p.kind { return ["kind: recorded \(r.kind), replayed \(p.kind) — the run took another path"] }
        if r.shapes != p.shapes {
            return ["shapes: recorded \(ReplayDivergence.shapes(r.shapes)), replayed \(ReplayDivergence.shapes(p.shapes)) — the run took another path"]
        }
        var out: [String] = []
        for (i, (a, b)) in zip(r.inputDigests, p.inputDigests).enumerated() where a != b {
            out.append("input \(i) \(r.shapes[i]) differs: recorded \(Digest.hex(a)), replayed \(Digest.hex(b))")
        }
        if r.inputDigests.count != p.inputDigests.count { out.append("input count: recorded \(r.inputDigests.count), replayed \(p.inputDigests.count)") }
        if !out.isEmpty {
            out.append("the inputs already differ: a computation before this call that is not a traced kernel (data loading, the optimiser, herding, a method's own arithmetic) diverged")
            if r.outputDigest != p.outputDigest { out.append("output differs too: recorded \(Digest.hex(r.outputDigest)), replayed \(Digest.hex(p.outputDigest))") }
            return out
        }
        if r.outputDigest != p.outputDigest {
            out.append("output \(r.shapes.last ?? []) differs: recorded \(Digest.hex(r.outputDigest)), replayed \(Digest.hex(p.outputDigest))")
            out.append("inputs identical: this kernel computed other bits from the same inputs (library version, CPU/ISA or thread count; `cilbench replay --capture \(p.sequence)` then `cilbench replay-kernel` tells which)")
        }
        return out
    }
}

/// The settings a kernel's bits can depend on, compared between a recorded environment and
/// this one. A difference here is the usual cause of a divergence.
public enum EnvironmentComparison {
    public static let relevantKeys = ["threads", "kernel_path", "conv3x3_kernel", "onednn_version", "onednn_isa", "openblas_core", "openblas_config",
                                      "openblas_coretype_env", "cpu_model", "cpu_count", "swift_version", "os"]

    public struct Difference: Sendable, CustomStringConvertible {
        public var key: String
        public var recorded: String
        public var current: String
        public var description: String { "\(key): \(recorded) (recorded) vs \(current) (here)" }
    }

    public static func differences(recorded: [String: String], current: [String: String]) -> [Difference] {
        relevantKeys.compactMap { key in
            let a = recorded[key] ?? "(not recorded)", b = current[key] ?? "(unknown)"
            return a == b ? nil : Difference(key: key, recorded: a, current: b)
        }
    }

    /// Report lines: the differences, or a statement that there are none.
    public static func report(recorded: [String: String], current: [String: String], recordedBuild: String?, currentBuild: String?) -> [String] {
        var lines: [String] = []
        let diffs = differences(recorded: recorded, current: current)
        if let recordedBuild, let currentBuild, recordedBuild != currentBuild {
            lines.append("  build: \(recordedBuild) (recorded) vs \(currentBuild) (here) — different code can compute different bits")
        }
        lines += diffs.map { "  \($0)" }
        if lines.isEmpty { return ["environment: identical to the recorded one (\(relevantKeys.joined(separator: ", ")), build) — look for a bug or nondeterminism"] }
        return ["environment differs from the recorded one (the usual cause):"] + lines
    }
}

extension KernelTrace {
    /// The trace of a bundle, ready to read; nil when the bundle has no full trace.
    public static func reader(bundleAt path: String, result: RunResult) throws(BundleFileError) -> Reader? {
        guard let info = result.trace else { return nil }
        guard let compressed = try ResultBundle.member(info.member, ofBundleAt: path) else {
            throw BundleFileError(path: path, error: .corrupt("no \(info.member) inside"))
        }
        do { return try Reader(try Zstd.decompress(compressed, limit: 1 << 34)) } catch { throw BundleFileError(path: path, error: error) }
    }

    /// The recorder's bytes, compressed for the bundle (a fast level: traces are large and
    /// mostly digests, which no level compresses).
    public static func compress(_ bytes: [UInt8]) throws(BundleError) -> [UInt8] { try Zstd.compress(bytes, level: 3) }
    public static func decompress(_ bytes: [UInt8]) throws(BundleError) -> [UInt8] { try Zstd.decompress(bytes, limit: 1 << 34) }
}
