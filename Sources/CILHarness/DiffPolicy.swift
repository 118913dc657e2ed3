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
                                          "threads", "kernel_path", "swift_version"]

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
