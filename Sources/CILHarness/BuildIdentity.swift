import CILData
import CILKernels
import Foundation

/// Which code ran, fixed when it was built: cilbench's version, the source revision the
/// build embedded, and the SHA-256 of the running executable. Manifests record it and the
/// phase-0 cache is keyed by it, so a rebuild (or a `git pull` without one) never reuses a
/// phase 0 computed by other code, and a checkout's state at run time plays no part.
public struct BuildIdentity: Sendable, Equatable {
    public var version: String
    /// The revision the build embedded (`git describe` of the sources at build time, with
    /// `-dirty` for uncommitted edits), or "unknown" when it could not be determined.
    public var revision: String
    /// SHA-256 (hex) of the executable that runs, nil where it cannot be read.
    public var executableDigest: String?

    public init(version: String, revision: String, executableDigest: String?) {
        self.version = version
        self.revision = revision
        self.executableDigest = executableDigest
    }

    /// What manifests record as the build: the revision and the executable's digest prefix.
    public var label: String {
        guard let executableDigest else { return revision }
        return "\(revision)+exe.\(executableDigest.prefix(12))"
    }

    /// What cache keys use: everything that identifies the code, and the kernels this
    /// process runs it on (`CILBENCH_CONV3X3`, `DNNL_MAX_CPU_ISA` and OpenBLAS's core choose
    /// them), so a phase 0 computed by other kernels is never reused.
    public var cacheKey: String {
        "\(version)|\(revision)|\(executableDigest ?? "no-executable-digest")|\(ComputeEngine.processKernelIdentity)"
    }

    /// The identity of the running process's executable (`/proc/self/exe`), computed once.
    public static func current(version: String, revision: String) -> BuildIdentity {
        BuildIdentity(version: version, revision: revision, executableDigest: ExecutableDigest.value)
    }

    /// SHA-256 of a file, read in 4 MiB pieces; nil when it cannot be read.
    public static func sha256(ofFileAt path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        var hash = SHA256()
        while true {
            guard let chunk = try? handle.read(upToCount: 4 << 20) else { return nil }
            if chunk.isEmpty { break }
            hash.update([UInt8](chunk))
        }
        return hash.finalize().map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
    }
}

private enum ExecutableDigest {
    static let value: String? = BuildIdentity.sha256(ofFileAt: "/proc/self/exe")
}
