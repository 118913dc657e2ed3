import Foundation
import Testing

/// The revision manifests record is fixed when cilbench is built (the EmbedRevision plugin),
/// not asked of whatever checkout sits beside the executable when it runs.
@Suite struct BuildIdentityTests {
    @Test func revisionIsEmbeddedAtBuildTime() throws {
        guard let tool = builtCilbench else {
            Issue.record("cilbench is not built beside the tests")
            return
        }
        let package = URL(fileURLWithPath: tool.protocols).deletingLastPathComponent()
        // A copy outside any checkout: asking git at run time would find no revision there.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-revision-\(getpid())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let copy = folder.appendingPathComponent("cilbench")
        // Copied by cp, not in this process: a write descriptor held here could leak into a
        // process another test spawns meanwhile, and exec of the copy would fail (ETXTBSY).
        let copied = try run("/bin/cp", [tool.executable.path, copy.path])
        try #require(copied.status == 0, "cp: \(copied.error)")

        let inPlace = try run(tool.executable.path, ["--version"])
        let moved = try run(copy.path, ["--version"], in: folder)
        #expect(inPlace.status == 0 && moved.status == 0)
        #expect(moved.output == inPlace.output)
        if let head = try? run("/usr/bin/git", ["-C", package.path, "rev-parse", "--short=12", "HEAD"]), head.status == 0 {
            let revision = head.output.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(moved.output.hasPrefix("0.1.0 (\(revision)"), "cilbench --version says \(moved.output), HEAD is \(revision)")
        } else {
            #expect(moved.output.hasPrefix("0.1.0 (unknown"))
        }
    }
}
