import Foundation
import Yams

/// How `cilbench diff` judges a run against the stored baselines of one protocol, written
/// beside them as `results/<protocol>/policy.yaml`. Two regimes:
/// - the run's environment equals the baseline's on `exactWhen` (CPU model, ISA, library
///   versions, threads, …): the engine is deterministic there, so every parameter,
///   exemplar and prediction digest must match — any change to the numbers is a change;
/// - otherwise results may differ in the last bits and training amplifies that, so each
///   per-phase accuracy (CNN, NME, phase-0 classes) must lie within `tolerancePoints` of
///   the baseline, a bound derived from the spread over seeds (`derivation` says how).
public struct DiffPolicy: Sendable, Equatable {
    public static let fileName = "policy.yaml"
    /// The environment keys whose equality makes results bit-reproducible.
    public static let defaultExactWhen = ["cpu_model", "onednn_isa", "onednn_version", "openblas_core", "openblas_config",
                                          "threads", "kernel_path", "conv3x3_kernel", "swift_version"]

    public var protocolName: String
    public var exactWhen: [String]
    public var tolerancePoints: Double
    public var derivation: String
    /// Where it was read from, for the report.
    public var path: String

    public init(protocolName: String, exactWhen: [String] = DiffPolicy.defaultExactWhen, tolerancePoints: Double, derivation: String, path: String = "") {
        self.protocolName = protocolName
        self.exactWhen = exactWhen
        self.tolerancePoints = tolerancePoints
        self.derivation = derivation
        self.path = path
    }

    /// Reads a policy file; every problem is one `HarnessError` naming the file.
    public static func load(path: String) throws -> DiffPolicy {
        let text: String
        do { text = try String(contentsOfFile: path, encoding: .utf8) } catch {
            throw HarnessError.unreadable(path, reason: "\(error.localizedDescription)")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw HarnessError.corrupt(path, reason: "is not valid YAML (\(error))")
        }
        guard let map = root?.mapping else { throw HarnessError.corrupt(path, reason: "is not a YAML mapping") }
        let known: Set = ["protocol", "exact_when_environment_matches", "tolerance_points", "derivation"]
        for key in map.keys.compactMap(\.string) where !known.contains(key) {
            throw HarnessError.corrupt(path, reason: "has an unknown field '\(key)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        guard let name = map["protocol"]?.string, !name.isEmpty else {
            throw HarnessError.corrupt(path, reason: "needs 'protocol: <name>'")
        }
        guard let tolerance = map["tolerance_points"]?.float, tolerance >= 0, tolerance.isFinite else {
            throw HarnessError.corrupt(path, reason: "needs 'tolerance_points: <non-negative number>'")
        }
        var exactWhen = defaultExactWhen
        if let keys = map["exact_when_environment_matches"] {
            guard let list = keys.sequence?.compactMap(\.string), list.count == keys.sequence?.count else {
                throw HarnessError.corrupt(path, reason: "'exact_when_environment_matches' must be a list of environment keys")
            }
            exactWhen = list
        }
        return DiffPolicy(protocolName: name, exactWhen: exactWhen, tolerancePoints: tolerance,
                          derivation: map["derivation"]?.string ?? "", path: path)
    }

    /// The policy stored with a baseline bundle: `policy.yaml` in the bundle's folder or one
    /// or two folders up (`results/<protocol>/<method>/seed-<n>.tar.zst`), or nil.
    public static func find(besideBaseline bundlePath: String) -> String? {
        var folder = URL(fileURLWithPath: bundlePath).deletingLastPathComponent()
        for _ in 0..<3 {
            let candidate = folder.appendingPathComponent(fileName).path
            if FileManager.default.fileExists(atPath: candidate) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        return nil
    }

    /// The `exactWhen` keys on which two environments differ, as "key: a ≠ b".
    public func environmentDifferences(_ a: [String: String], _ b: [String: String]) -> [String] {
        exactWhen.compactMap { key in
            let x = a[key] ?? "(absent)", y = b[key] ?? "(absent)"
            return x == y ? nil : "\(key): \(x) ≠ \(y)"
        }
    }
}

extension DiffPolicy {
    /// Derives a protocol's tolerance from runs of several seeds: for every variant with at
    /// least two seeds, every phase and every series (CNN and NME on all seen classes and on
    /// the phase-0 classes), the sample standard deviation over seeds; the tolerance is two
    /// pooled standard deviations (root mean variance), rounded up to half a point. Results
    /// of one seed only, or of another protocol, are ignored.
    public static func derive(protocolName: String, from results: [RunResult]) throws -> DiffPolicy {
        let runs = results.filter { $0.protocolName == protocolName }
        let byVariant = Dictionary(grouping: runs, by: \.methodLabel)
        var variances: [Double] = [], largest = (std: 0.0, label: "")
        var usedVariants: [String] = [], seeds = Set<Int>()
        for label in byVariant.keys.sorted() {
            let group = byVariant[label]!.sorted { $0.seed < $1.seed }
            guard group.count >= 2 else { continue }
            guard Set(group.map(\.protocolFingerprint)).count == 1, Set(group.map(\.methodSettingsDigest)).count == 1 else {
                throw HarnessError.mismatch("\(label) on \(protocolName): the seeds' runs have different protocol fingerprints or method settings")
            }
            usedVariants.append("\(label) (\(group.count) seeds)")
            seeds.formUnion(group.map(\.seed))
            for k in 0..<group[0].cnn.phaseCount {
                var series: [(String, [Double])] = [
                    ("CNN", group.map { $0.cnn.accuracyOnSeenClasses(afterPhase: k) }),
                    ("CNN phase-0 classes", group.map { $0.cnn.phase0ClassAccuracy(afterPhase: k) }),
                ]
                if group.allSatisfy({ $0.nme != nil }) {
                    series.append(("NME", group.map { $0.nme!.accuracyOnSeenClasses(afterPhase: k) }))
                    series.append(("NME phase-0 classes", group.map { $0.nme!.phase0ClassAccuracy(afterPhase: k) }))
                }
                for (name, values) in series {
                    let mean = values.reduce(0, +) / Double(values.count)
                    let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
                    variances.append(variance)
                    if variance.squareRoot() > largest.std { largest = (variance.squareRoot(), "\(label) phase \(k) \(name)") }
                }
            }
        }
        guard !variances.isEmpty else {
            throw HarnessError.mismatch("no variant of \(protocolName) has runs of two or more seeds: nothing to derive a tolerance from")
        }
        let pooled = (variances.reduce(0, +) / Double(variances.count)).squareRoot()
        let tolerance = (2 * pooled * 2).rounded(.up) / 2
        let derivation = String(format: "2 x pooled seed standard deviation (%.2f points) of every per-phase accuracy (CNN and NME, all seen and phase-0 classes) over seeds %@ of %@, rounded up to half a point; largest single standard deviation %.2f points (%@)",
                                pooled, seeds.sorted().map(String.init).joined(separator: ", "), usedVariants.joined(separator: ", "), largest.std, largest.label)
        return DiffPolicy(protocolName: protocolName, tolerancePoints: tolerance, derivation: derivation)
    }

    /// The policy as `policy.yaml` text.
    public var yaml: String {
        """
        # How `cilbench diff` judges runs of \(protocolName) against the baselines in this folder.
        # Written by `cilbench policy`; change it only in a reviewed commit.
        protocol: \(protocolName)
        # Where the run's environment equals the baseline's on these keys, every digest must match.
        exact_when_environment_matches: [\(exactWhen.joined(separator: ", "))]
        # Elsewhere, every per-phase accuracy (CNN, NME; all seen and phase-0 classes) within this many points.
        tolerance_points: \(tolerancePoints)
        derivation: "\(derivation.replacingOccurrences(of: "\"", with: "'"))"

        """
    }
}
