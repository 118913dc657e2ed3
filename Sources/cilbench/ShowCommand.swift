// `cilbench show`: a result bundle's summary.
import ArgumentParser
import CILHarness

struct ShowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print a result bundle's summary: headline metrics (CNN and NME) and per-phase accuracies.")

    @Argument(help: "A result bundle (.tar.zst).")
    var bundle: String

    func run() throws {
        let result: RunResult
        result = try readBundle(bundle)
        print(ResultBundle.summary(result), terminator: "")
    }
}
