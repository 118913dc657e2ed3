// `cilbench policy`: derive a protocol's diff policy from runs over several seeds.
import ArgumentParser
import CILHarness
import Foundation

struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Derive a protocol's diff tolerance from runs of several seeds and write results/<protocol>/policy.yaml.",
        discussion: "The tolerance is two pooled seed standard deviations of the per-phase accuracies, rounded up to half a point; where the environment matches the baseline's, `cilbench diff` requires identical digests instead.")

    @Argument(help: "Result bundles, or folders searched for *.tar.zst (several seeds per variant).")
    var paths: [String]

    @Option(name: .customLong("protocol"), help: "The protocol whose runs to use.")
    var protocolName: String

    @Option(help: "Write the policy here (default: print it).")
    var out: String?

    func run() throws {
        let files = ResultBundle.find(in: paths)
        guard !files.isEmpty else { throw failure("no result bundles (*.tar.zst) in \(paths.joined(separator: " "))") }
        var results: [RunResult] = []
        for file in files {
            results.append(try readBundle(file))
        }
        let policy: DiffPolicy
        do { policy = try DiffPolicy.derive(protocolName: protocolName, from: results) } catch { throw failure("\(error)") }
        guard let out else { print(policy.yaml, terminator: ""); return }
        do { try AtomicFile.write(Data(policy.yaml.utf8), to: URL(fileURLWithPath: out)) } catch { throw failure("\(out): \(error)") }
        print(out)
    }
}
