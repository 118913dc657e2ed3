// `cilbench diff`: did a change move the numbers?
import ArgumentParser
import CILHarness

struct DiffCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diff",
        abstract: "Compare a run with a baseline, phase by phase (CNN, NME, phase-0-class accuracy).",
        discussion: "Exit status: 0 identical or within tolerance, 1 outside tolerance (a gain counts too), 2 not comparable (different protocol fingerprints) or bad input.")

    @Argument(help: "The run's bundle.")
    var bundle: String

    @Argument(help: "The baseline bundle.")
    var baseline: String

    @Option(help: "Largest allowed per-phase difference, in accuracy points.")
    var tolerance: Double = 0

    func run() throws {
        guard tolerance >= 0, tolerance.isFinite else { throw failure("--tolerance must be a non-negative number of points") }
        let run: RunResult, base: RunResult
        do {
            run = try ResultBundle.read(path: bundle)
            base = try ResultBundle.read(path: baseline)
        } catch {
            throw failure(error.description)
        }
        let diff = BundleDiff(candidate: run, baseline: base, tolerance: tolerance)
        print(diff.report, terminator: "")
        if diff.verdict.exitCode != 0 { throw ExitCode(diff.verdict.exitCode) }
    }
}
