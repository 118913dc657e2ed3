import Foundation

/// A run compared with a baseline run, phase by phase: CNN and NME accuracy on all seen
/// classes and the forgetting curve (accuracy on the phase-0 classes). Any difference
/// beyond the tolerance counts, in either direction: an unexplained gain is a change too.
public struct BundleDiff: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// Every count of correct predictions is the same.
        case identical
        /// Differences, all within the tolerance.
        case withinTolerance
        /// At least one per-phase value differs by more than the tolerance.
        case outsideTolerance
        /// Same environment as the baseline (per the policy), but the digests differ from
        /// this phase on: the code changed what it computes.
        case digestsDiffer(firstPhase: Int)
        /// Different protocol fingerprints or phase structure: no comparison is made.
        case notComparable(String)

        /// `cilbench diff`'s exit status.
        public var exitCode: Int32 {
            switch self {
            case .identical, .withinTolerance: return 0
            case .outsideTolerance, .digestsDiffer: return 1
            case .notComparable: return 2
            }
        }
    }

    public struct Row: Sendable {
        public var phase: Int
        /// (candidate, baseline) pairs in percent.
        public var cnn: (Double, Double)
        /// Nil for methods without exemplars (no NME classifier).
        public var nme: (Double, Double)?
        public var cnnPhase0: (Double, Double)
        public var nmePhase0: (Double, Double)?

        public var largestDeviation: Double {
            ([cnn, cnnPhase0] + [nme, nmePhase0].compactMap { $0 }).map { abs($0.0 - $0.1) }.max()!
        }
    }

    public var verdict: Verdict
    public var tolerance: Double
    public var rows: [Row]
    public var candidateLabel: String
    public var baselineLabel: String
    /// Whether parameter, exemplar and prediction digests all match.
    public var digestsMatch: Bool
    public var notes: [String]
    /// The policy the verdict followed, if any, and whether its exact regime applied.
    public var policy: DiffPolicy?
    public var exactRegime = false

    /// Judges by a stored policy: digests must match where the environment matches the
    /// baseline's, accuracies must lie within the policy's tolerance elsewhere.
    public init(candidate c: RunResult, baseline b: RunResult, policy: DiffPolicy) {
        let differences = policy.environmentDifferences(c.environment, b.environment)
        self.init(candidate: c, baseline: b, tolerance: policy.tolerancePoints)
        self.policy = policy
        if c.protocolName != policy.protocolName {
            notes.append("policy \(policy.path) is for protocol \(policy.protocolName), not \(c.protocolName)")
        }
        if case .notComparable = verdict { return }
        if differences.isEmpty {
            exactRegime = true
            notes.append("environment matches the baseline's on \(policy.exactWhen.joined(separator: ", ")): digests must match")
            let mine = c.phases.map { [$0.parameterDigest, $0.exemplarDigest, $0.predictionDigest] }
            let theirs = b.phases.map { [$0.parameterDigest, $0.exemplarDigest, $0.predictionDigest] }
            let common = min(mine.count, theirs.count)
            if let first = (0..<common).first(where: { mine[$0] != theirs[$0] }) ?? (mine.count == theirs.count ? nil : common) {
                verdict = .digestsDiffer(firstPhase: first)
            } else if verdict == .withinTolerance {
                verdict = .identical   // equal digests: any accuracy difference would be a bug in the bundle
            }
        } else {
            notes.append("environment differs from the baseline's (\(differences.joined(separator: "; "))): accuracies must lie within \(policy.tolerancePoints) points")
        }
    }

    public init(candidate c: RunResult, baseline b: RunResult, tolerance: Double) {
        self.tolerance = tolerance
        candidateLabel = "\(c.protocolName) \(c.methodLabel) seed \(c.seed)"
        baselineLabel = "\(b.protocolName) \(b.methodLabel) seed \(b.seed)"
        rows = []
        notes = []
        digestsMatch = c.phases.map { [$0.parameterDigest, $0.exemplarDigest, $0.predictionDigest] }
            == b.phases.map { [$0.parameterDigest, $0.exemplarDigest, $0.predictionDigest] }
        if c.methodLabel != b.methodLabel { notes.append("different methods: \(c.methodLabel) against \(b.methodLabel)") }
        if c.seed != b.seed { notes.append("different seeds: \(c.seed) against \(b.seed)") }
        if c.protocolFingerprint != b.protocolFingerprint {
            verdict = .notComparable("different protocol fingerprints: \(c.protocolFingerprint.prefix(12))… (\(c.protocolName)) against \(b.protocolFingerprint.prefix(12))… (\(b.protocolName))")
            return
        }
        if c.methodSettings != b.methodSettings {
            let mine = Set(c.methodSettings), theirs = Set(b.methodSettings)
            let first = (mine.symmetricDifference(theirs)).sorted().first ?? ""
            verdict = .notComparable("different method settings (e.g. `\(first)` in only one of them)")
            return
        }
        if c.cnn.testImages != b.cnn.testImages {
            verdict = .notComparable("the runs were scored on different test sets")
            return
        }
        if (c.nme == nil) != (b.nme == nil) {
            verdict = .notComparable("one run has an NME classifier (exemplars), the other has none")
            return
        }
        for k in 0..<c.cnn.phaseCount {
            var nme: (Double, Double)?, nmePhase0: (Double, Double)?
            if let cn = c.nme, let bn = b.nme {
                nme = (cn.accuracyOnSeenClasses(afterPhase: k), bn.accuracyOnSeenClasses(afterPhase: k))
                nmePhase0 = (cn.phase0ClassAccuracy(afterPhase: k), bn.phase0ClassAccuracy(afterPhase: k))
            }
            rows.append(Row(phase: k,
                            cnn: (c.cnn.accuracyOnSeenClasses(afterPhase: k), b.cnn.accuracyOnSeenClasses(afterPhase: k)),
                            nme: nme, cnnPhase0: (c.cnn.phase0ClassAccuracy(afterPhase: k), b.cnn.phase0ClassAccuracy(afterPhase: k)),
                            nmePhase0: nmePhase0))
        }
        if c.cnn == b.cnn && c.nme == b.nme {
            verdict = .identical
        } else {
            let largest = rows.map(\.largestDeviation).max() ?? 0
            verdict = largest <= tolerance ? .withinTolerance : .outsideTolerance
        }
    }

    public var largestDeviation: Double { rows.map(\.largestDeviation).max() ?? 0 }

    /// The readable report `cilbench diff` prints.
    public var report: String {
        func f(_ v: Double) -> String { String(format: "%.2f", v) }
        func d(_ p: (Double, Double)) -> String {
            let delta = p.0 - p.1
            let mark = abs(delta) > tolerance ? " !" : ""
            return String(format: "%+.2f", delta) + mark
        }
        var out = "run:      \(candidateLabel)\nbaseline: \(baselineLabel)\n"
        if let policy { out += "policy:   \(policy.path.isEmpty ? "(given)" : policy.path)\n" }
        for note in notes { out += "note: \(note)\n" }
        if case .notComparable(let why) = verdict {
            return out + "verdict: NOT COMPARABLE: \(why)\n"
        }
        out += "\n| phase | CNN run | CNN base | Δ | NME run | NME base | Δ | CNN phase-0 classes Δ | NME phase-0 classes Δ |\n"
        out += "|---|---|---|---|---|---|---|---|---|\n"
        for r in rows {
            let nmeCells = r.nme.map { "\(f($0.0)) | \(f($0.1)) | \(d($0))" } ?? "n/a | n/a | n/a"
            out += "| \(r.phase) | \(f(r.cnn.0)) | \(f(r.cnn.1)) | \(d(r.cnn)) | \(nmeCells) | \(d(r.cnnPhase0)) | \(r.nmePhase0.map(d) ?? "n/a") |\n"
        }
        out += "\ndigests: " + (digestsMatch ? "all parameter, exemplar and prediction digests match\n" : "differ\n")
        switch verdict {
        case .identical: out += exactRegime ? "verdict: IDENTICAL digests and accuracies\n" : "verdict: IDENTICAL accuracies\n"
        case .withinTolerance: out += "verdict: WITHIN TOLERANCE (largest deviation \(f(largestDeviation)) ≤ \(f(tolerance)) points)\n"
        case .outsideTolerance: out += "verdict: OUTSIDE TOLERANCE (largest deviation \(f(largestDeviation)) > \(f(tolerance)) points; marked !)\n"
        case .digestsDiffer(let phase): out += "verdict: CHANGED: same environment as the baseline, but the digests differ from phase \(phase) on (largest accuracy deviation \(f(largestDeviation)) points)\n"
        case .notComparable: break
        }
        return out
    }
}
