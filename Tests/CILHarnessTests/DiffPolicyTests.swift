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
}
