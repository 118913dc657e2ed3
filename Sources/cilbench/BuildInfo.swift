import CILHarness

/// cilbench's version and the revision of the sources it was built from, for manifests.
enum BuildInfo {
    static let version = "0.1.0"

    /// The identity manifests record and the phase-0 cache is keyed by: the revision fixed
    /// at build time and the running executable's SHA-256.
    static let identity = BuildIdentity.current(version: version, revision: gitRevision)

    /// `git rev-parse --short=12 HEAD` of the sources at build time, "-dirty" when tracked
    /// files had uncommitted edits, "unknown" when built outside a git checkout; embedded by
    /// the EmbedRevision plugin (Sources/EmbedRevision), never asked of git at run time.
    static let gitRevision = EmbeddedRevision.value
}
