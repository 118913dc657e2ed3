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

    @Flag(help: "Add the paper's Table 1 value and the difference (verified values only; others show as unknown).")
    var paper = false

    func run() throws {
        guard let which = AccuracyTable.Classifier(rawValue: classifier) else { throw failure("--classifier must be cnn or nme, not \(classifier)") }
        let files = ResultBundle.find(in: paths)
        guard !files.isEmpty else { throw failure("no result bundles (*.tar.zst) in \(paths.joined(separator: " "))") }
        var results: [RunResult] = []
        for file in files {
            results.append(try readBundle(file))
        }
        let table = AccuracyTable(results: results, classifier: which)
        print(format == .markdown ? table.markdown(paper: paper) : table.csv(paper: paper), terminator: "")
    }
}
