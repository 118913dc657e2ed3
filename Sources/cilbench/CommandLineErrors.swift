// How subcommands report bad input: one line on standard error, then a non-zero exit.
import ArgumentParser
import CILKernels
import Foundation

/// A `--threads` value checked against 1 ... the machine's CPU count (results depend on it,
/// and more threads than CPUs only slow a run down or exhaust the OpenMP runtime).
func checkedThreads(_ threads: Int) throws -> Int {
    let maximum = ComputeEngine.maximumThreads
    guard (1...maximum).contains(threads) else {
        throw failure("--threads must be between 1 and \(maximum) (this machine's CPU count), got \(threads)")
    }
    return threads
}

/// Prints `error: <message>` to standard error and returns the exit to throw.
func failure(_ message: String, code: Int32 = 2) -> ExitCode {
    FileHandle.standardError.write(Data("error: \(message)\n".utf8))
    return ExitCode(code)
}
