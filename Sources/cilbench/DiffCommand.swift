// `cilbench diff`: did a change move the numbers?
import ArgumentParser
import CILHarness

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare a run with a baseline, phase by phase (CNN, NME, phase-0-class accuracy).",
        discussion: """
            Without --tolerance, the baseline's stored policy decides (results/<protocol>/policy.yaml, found \
            beside the baseline bundle or up to two folders above it, or given with --policy): identical digests \
            when the environment matches the baseline's (CPU model, ISA, library versions, threads), otherwise \
            accuracies within the policy's tolerance. With neither, accuracies must be identical.
            Exit status: 0 identical or within the policy, 1 outside it (a gain counts too; changed digests in a \
            matching environment count), 2 not comparable (different protocol fingerprints) or bad input.
            """)

    @Argument(help: "The run's bundle.")
    var bundle: String

    @Argument(help: "The baseline bundle.")
    var baseline: String

    @Option(parsing: .unconditional, help: "Largest allowed per-phase difference, in accuracy points (overrides the stored policy).")
    var tolerance: Double?

    @Option(help: "A policy file to judge by (default: the policy.yaml stored beside the baseline).")
    var policy: String?

    func run() throws {
        if let tolerance, !(tolerance >= 0 && tolerance.isFinite) { throw failure("--tolerance must be a non-negative number of points") }
        let run = try readBundle(bundle), base = try readBundle(baseline)
        let diff: BundleDiff
        if let tolerance {
            diff = BundleDiff(candidate: run, baseline: base, tolerance: tolerance)
        } else if let path = policy ?? DiffPolicy.find(besideBaseline: baseline) {
            let stored: DiffPolicy
            do { stored = try DiffPolicy.load(path: path) } catch { throw failure("\(error)") }
            diff = BundleDiff(candidate: run, baseline: base, policy: stored)
        } else {
            diff = BundleDiff(candidate: run, baseline: base, tolerance: 0)
        }
        print(diff.report, terminator: "")
        if diff.verdict.exitCode != 0 { throw ExitCode(diff.verdict.exitCode) }
    }
}
