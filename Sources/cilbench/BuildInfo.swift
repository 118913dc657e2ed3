import CILHarness
import Foundation

/// cilbench's version and the git revision of the checkout it runs from, for manifests.
enum BuildInfo {
    static let version = "0.1.0"

    /// The identity manifests record and the phase-0 cache is keyed by.
    static let identity = BuildIdentity.current(version: version, revision: gitRevision)

    /// `git rev-parse --short HEAD` of the package the executable was built in, with
    /// "-dirty" when the work tree has changes; "unknown" outside a checkout.
    static let gitRevision: String = {
        let executable = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        for _ in 0..<4 { folder = folder.deletingLastPathComponent(); if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) { break } }
        guard let head = git(["rev-parse", "--short=12", "HEAD"], in: folder), !head.isEmpty else { return "unknown" }
        let dirty = (git(["status", "--porcelain", "--untracked-files=no"], in: folder) ?? "").isEmpty ? "" : "-dirty"
        return head + dirty
    }()

    private static func git(_ arguments: [String], in folder: URL) -> String? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/git")
        process.arguments = ["-C", folder.path] + arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return nil }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
