import CILHarness
import Foundation

/// The one place the grid starts a run. Until the harness's `RunExecution` (issue 11) is
/// merged, this goes through `cilbench run --resume`'s own code in this process (no
/// progress events: the status file shows the phase only when the run ends).
enum GridRunPath {
    enum Event {
        case progress(RunEvent)
        /// Continuing after this many finished phases (from the cell's checkpoint).
        case resumed(Int)
        case note(String)
    }

    static func start(_ cell: GridCell, out: URL, threads: Int, dataRoot: String?, observer: @escaping (Event) -> Void) throws -> () throws -> URL {
        var arguments = [cell.protocolName, "--method", cell.method, "--seed", String(cell.seed), "--out", out.path, "--threads", String(threads), "--resume",
                         "--protocols", ProtocolLibrary.locate().directory]
        if cell.aanets { arguments.append("--aanets") }
        if let dataRoot { arguments += ["--data-root", dataRoot] }
        for set in cell.overrides { arguments += ["--set", set] }
        let command = try RunCommand.parse(arguments)
        return {
            try command.execute()
            return cell.bundleURL(out: out)
        }
    }
}
