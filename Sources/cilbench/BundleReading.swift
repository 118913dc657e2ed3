// How subcommands read result bundles: verified (schema 2) or with a note (older schemas).
import CILHarness
import Foundation

/// Reads and verifies a bundle; a bundle that fails verification is `error: <path>: …`
/// with exit 2. An older-schema bundle (no member checksums) reads with a note on standard
/// error saying it is unverified.
func readBundle(_ path: String) throws -> RunResult {
    let read: (result: RunResult, verification: ResultBundle.Verification)
    do { read = try ResultBundle.readChecked(path: path) } catch { throw failure(error.description) }
    if case .unverified(let schema) = read.verification {
        FileHandle.standardError.write(Data("note: \(path): schema \(schema) bundle, written before member checksums: unverified\n".utf8))
    }
    return read.result
}
