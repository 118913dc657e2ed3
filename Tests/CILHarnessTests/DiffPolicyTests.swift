import CILHarness
import Foundation
import Testing

/// The stored tolerance policy: exact digests in a matching environment, accuracy within
/// the policy's points elsewhere, and one clear error for a bad policy file.
@Suite struct DiffPolicyTests {
    let policy = DiffPolicy(protocolName: "smoke", exactWhen: ["cpu_model", "threads"], tolerancePoints: 3, derivation: "test")

    @Test func matchingEnvironmentRequiresEqualDigests() throws {
        let base = try sampleResult()
        #expect(BundleDiff(candidate: base, baseline: base, policy: policy).verdict == .identical)
        var changed = base
        changed.phases[1].parameterDigest &+= 1   // same accuracies, different parameters
        let diff = BundleDiff(candidate: changed, baseline: base, policy: policy)
        #expect(diff.verdict == .digestsDiffer(firstPhase: 1))
        #expect(diff.verdict.exitCode == 1)
        #expect(diff.exactRegime && diff.report.contains("CHANGED"))
    }

    @Test func otherEnvironmentUsesTheTolerance() throws {
        let base = try sampleResult()
        var other = try sampleResult(cnnLast: [21, 15, 25])   // +2.5 points on the phase-0 classes
        other.environment["threads"] = "1"
        other.phases[2].parameterDigest &+= 7
        let within = BundleDiff(candidate: other, baseline: base, policy: policy)
        #expect(!within.exactRegime && within.verdict == .withinTolerance)
        #expect(within.report.contains("threads: 1 ≠ 2"))
        let tight = DiffPolicy(protocolName: "smoke", exactWhen: ["threads"], tolerancePoints: 2, derivation: "")
        #expect(BundleDiff(candidate: other, baseline: base, policy: tight).verdict == .outsideTolerance)
    }

    @Test func loadsAndFindsPolicyFiles() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString)")
        let folder = root.appendingPathComponent("smoke/lucir")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let file = root.appendingPathComponent("smoke/policy.yaml")
        try "protocol: smoke\ntolerance_points: 4.5\nexact_when_environment_matches: [threads]\nderivation: three seeds\n"
            .write(to: file, atomically: true, encoding: .utf8)
        let found = try #require(DiffPolicy.find(besideBaseline: folder.appendingPathComponent("seed-1993.tar.zst").path))
        let loaded = try DiffPolicy.load(path: found)
        #expect(loaded.protocolName == "smoke" && loaded.tolerancePoints == 4.5 && loaded.exactWhen == ["threads"])
        #expect(loaded.derivation == "three seeds")

        try "protocol: smoke\ntolerance: 4.5\n".write(to: file, atomically: true, encoding: .utf8)
        #expect { try DiffPolicy.load(path: file.path) } throws: { "\($0)".contains("unknown field 'tolerance'") && "\($0)".contains(file.path) }
        try "protocol: smoke\ntolerance_points: -1\n".write(to: file, atomically: true, encoding: .utf8)
        #expect { try DiffPolicy.load(path: file.path) } throws: { "\($0)".contains("tolerance_points") }
        #expect(DiffPolicy.find(besideBaseline: "/nonexistent/a/b/c.tar.zst") == nil)
    }

    @Test func toleranceIsTwoPooledSeedStandardDeviations() throws {
        // Seeds differ only in the last phase's phase-0 classes: 20 vs 26 of 40 correct, so
        // CNN on all seen classes 60 vs 66 % (variance 18) and on phase-0 classes 50 vs 65 %
        // (variance 112.5); the other 10 of 12 series (3 phases x CNN/NME x all/phase-0) are
        // equal. Pooled std = sqrt(130.5 / 12) = 3.298; 2 x 3.298 = 6.60 -> 7.0 points.
        let runs = [try sampleResult(seed: 1), try sampleResult(seed: 2, cnnLast: [26, 15, 25]),
                    try sampleResult(seed: 1, method: "finetune"), try sampleResult(seed: 1, protocolName: "other")]
        let policy = try DiffPolicy.derive(protocolName: "smoke", from: runs)
        #expect(policy.tolerancePoints == 7.0)
        #expect(policy.derivation.contains("3.30") && policy.derivation.contains("lucir (2 seeds)"))
        #expect(!policy.derivation.contains("finetune"))   // one seed only: no spread to measure
        #expect(throws: HarnessError.self) { try DiffPolicy.derive(protocolName: "smoke", from: [runs[0]]) }
        // The written file reads back as the same policy.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("policy-\(UUID().uuidString).yaml")
        defer { try? FileManager.default.removeItem(at: file) }
        try policy.yaml.write(to: file, atomically: true, encoding: .utf8)
        let loaded = try DiffPolicy.load(path: file.path)
        #expect(loaded.tolerancePoints == 7.0 && loaded.exactWhen == DiffPolicy.defaultExactWhen && loaded.derivation == policy.derivation)
    }
}
