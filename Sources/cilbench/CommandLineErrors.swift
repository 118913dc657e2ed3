// How subcommands report bad input: one line on standard error, then a non-zero exit.
import ArgumentParser
import Foundation

/// Prints `error: <message>` to standard error and returns the exit to throw.
func failure(_ message: String, code: Int32 = 2) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code)
}
