// `cilbench table`: average incremental accuracy over many runs.
import ArgumentParser
import CILHarness

struct TableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "table",
        abstract: "Average-incremental-accuracy table: rows = methods with and without AANets, columns = protocols, mean ± std over seeds.")

    enum Format: String, ExpressibleByArgument, CaseIterable { case markdown, csv }

    @Argument(help: "Result bundles, or folders searched for *.tar.zst.")
    var paths: [String]

    @Option(help: "markdown or csv.")
    var format: Format = .markdown

    @Option(help: "Which classifier's accuracy: cnn (what AANets reports for LUCIR and PODNet) or nme.")
    var classifier: String = "cnn"

    @Flag(help: "Add the paper's Table 1 value and the difference (verified values only; others show as unknown). A cell whose runs depart from the paper's setting (--set, an edited protocol, fidelity: corrected, the other classifier) gets no difference, but the reason.")
    var paper = false

    @Option(help: "Protocol folder whose shipped files define the paper's settings (default: protocols/ beside the package).")
    var protocols: String?

    func run() throws {
        guard let which = AccuracyTable.Classifier(rawValue: classifier) else { throw failure("--classifier must be cnn or nme, not \(classifier)") }
        let files = ResultBundle.find(in: paths)
        guard !files.isEmpty else { throw failure("no result bundles (*.tar.zst) in \(paths.joined(separator: " "))") }
        var results: [RunResult] = []
        for file in files {
            results.append(try readBundle(file))
        }
        // The shipped files' fingerprints tell an edited protocol from the paper's setting.
        var shipped: [String: String] = [:]
        if paper {
            let library = ProtocolLibrary.locate(explicit: protocols)
            for name in Set(results.map(\.protocolName)) {
                if let file = try? library.load(name) { shipped[name] = file.sharedFingerprint }
            }
        }
        let table = AccuracyTable(results: results, classifier: which, shippedFingerprints: shipped)
        print(format == .markdown ? table.markdown(paper: paper) : table.csv(paper: paper), terminator: "")
    }
}
