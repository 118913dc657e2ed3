import CILHarness
import Foundation
import Testing

private let tool = builtCilbench

/// Faults against `cilbench run`: kills at several points then `--resume` (bit-identical to
/// an unbroken run), concurrent runs of one cell and of different settings, a read-only
/// and a full output folder (small tmpfs mounts; skipped, with the reason printed, where
/// this process cannot mount).
@Suite(.serialized, .enabled(if: tool != nil, "cilbench executable not found next to the test bundle; build it first (swift build -c release)"))
struct FaultTests {
    static let cell = ["run", "smoke", "--method", "lwf", "--threads", "1", "--no-phase-zero-cache"]

    /// Starts cilbench with SIGINT and SIGTERM at their default action: a test runner may
    /// pass them on ignored, which a user's terminal does not.
    static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["--default-signal=INT,TERM", tool!.executable.path] + arguments + ["--protocols", tool!.protocols]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    static func digests(_ path: String) throws -> [[UInt64]] {
        let r = try ResultBundle.read(path: path)
        return [r.phases.map(\.parameterDigest), r.phases.map(\.exemplarDigest), r.phases.map(\.predictionDigest)]
    }

    /// SIGINT while phase 0 trains, SIGKILL after phase 0's checkpoint, SIGTERM after phase
    /// 1's: each resumed run's bundle equals the unbroken run's, digests and counts.
    @Test func killedAtSeveralPointsThenResumedEqualsUnbroken() throws {
        let root = try temporaryFolder("kills")
        defer { try? FileManager.default.removeItem(at: root) }
        let unbroken = try runCilbench(Self.cell + ["--out", root.appendingPathComponent("unbroken").path, "--protocols", tool!.protocols], timeout: 300)
        #expect(unbroken.status == 0, "\(unbroken.stderr)")
        let reference = try Self.digests(root.appendingPathComponent("unbroken/smoke/lwf/seed-1993.tar.zst").path)
        let referenceResult = try ResultBundle.read(path: root.appendingPathComponent("unbroken/smoke/lwf/seed-1993.tar.zst").path)

        for (signal, finishedPhases) in [(SIGINT, 0), (SIGKILL, 1), (SIGTERM, 2)] {
            let out = root.appendingPathComponent("killed-\(signal)")
            let folder = out.appendingPathComponent("smoke/lwf")
            let checkpoint = folder.appendingPathComponent("seed-1993.checkpoint")
            let victim = try Self.start(Self.cell + ["--out", out.path])
            let deadline = Date().addingTimeInterval(120)
            if finishedPhases == 0 {
                // While phase 0 trains: once the cell's folder exists, a moment later.
                while !FileManager.default.fileExists(atPath: folder.path) && victim.isRunning && Date() < deadline { usleep(2_000) }
                usleep(300_000)
            } else {
                func finished() -> Int { (try? Checkpoint.read(from: checkpoint).0.finishedPhases) ?? 0 }
                while finished() < finishedPhases && victim.isRunning && Date() < deadline { usleep(2_000) }
            }
            kill(victim.processIdentifier, signal)
            victim.waitUntilExit()
            #expect(victim.terminationReason == .uncaughtSignal, "signal \(signal): the run finished before it could be killed")
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("seed-1993.tar.zst").path), "a killed run left a bundle")

            let resumed = try runCilbench(Self.cell + ["--out", out.path, "--resume", "--protocols", tool!.protocols], timeout: 300)
            #expect(resumed.status == 0, "\(resumed.stderr)")
            let bundle = folder.appendingPathComponent("seed-1993.tar.zst").path
            #expect(try Self.digests(bundle) == reference, "signal \(signal)")
            let result = try ResultBundle.read(path: bundle)
            #expect(result.cnn == referenceResult.cnn && result.nme == referenceResult.nme)
            #expect(partialFiles(under: out).isEmpty, "\(partialFiles(under: out))")
            #expect(!FileManager.default.fileExists(atPath: checkpoint.path))
        }
    }

    /// Two runs of the same cell at once: one writes the bundle, the other stops at once
    /// with one error line; the bundle reads and verifies.
    @Test func twoConcurrentIdenticalRunsNeverCorruptEachOther() throws {
        let out = try temporaryFolder("concurrent-same")
        defer { try? FileManager.default.removeItem(at: out) }
        let arguments = Self.cell + ["--out", out.path, "--protocols", tool!.protocols]
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: 2) { _ in results.append(try? runCilbench(arguments, timeout: 300)) }
        let runs = results.all
        #expect(runs.count == 2)
        let statuses = runs.map(\.status).sorted()
        #expect(statuses == [0, 2] || statuses == [0, 0], "\(statuses)")
        if statuses == [0, 2], let refused = runs.first(where: { $0.status == 2 }) {
            #expect(refused.stderr.contains("another run of the same protocol, method and seed"), "\(refused.stderr)")
        }
        let bundle = out.appendingPathComponent("smoke/lwf/seed-1993.tar.zst").path
        #expect(try ResultBundle.readChecked(path: bundle).verification == .verified(members: ResultBundle.memberNames.count))
        #expect(partialFiles(under: out).isEmpty)
    }

    /// Two runs with different settings at once, and two methods sharing one phase-0 cache
    /// entry: every run finishes, each bundle under its own path, the cache entry intact.
    @Test func concurrentRunsWithDifferentSettingsAndASharedCache() throws {
        let out = try temporaryFolder("concurrent-different")
        defer { try? FileManager.default.removeItem(at: out) }
        let common = ["run", "smoke", "--threads", "1", "--out", out.path, "--protocols", tool!.protocols]
        let variants = [["--method", "lwf", "--set", "training.epochs=1"], ["--method", "lwf", "--set", "training.epochs=3"],
                        ["--method", "lucir"], ["--method", "icarl"]]
        let results = LockedResults()
        DispatchQueue.concurrentPerform(iterations: variants.count) { i in results.append(try? runCilbench(common + variants[i], timeout: 600)) }
        let runs = results.all
        #expect(runs.count == variants.count && runs.allSatisfy { $0.status == 0 }, "\(runs.map(\.stderr))")
        let bundles = ResultBundle.find(in: [out.path])
        #expect(bundles.count == 4, "\(bundles)")
        for bundle in bundles { #expect(throws: Never.self) { _ = try ResultBundle.read(path: bundle) } }
        let epochs = try bundles.filter { $0.contains("/lwf/") }.map { try ResultBundle.read(path: $0).protocolOverrides }
        #expect(Set(epochs) == [["training.epochs=1"], ["training.epochs=3"]])
        let cache = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent(".phase0-cache").path)
        for entry in cache where entry.hasSuffix(".checkpoint") {
            #expect(throws: Never.self) { _ = try Checkpoint.read(from: out.appendingPathComponent(".phase0-cache/\(entry)")) }
        }
        #expect(partialFiles(under: out).isEmpty)
    }

    /// A small tmpfs mounted for the test (unmounted by the same code); nil, with the
    /// reason printed, where mounting is not possible.
    static func mount(_ options: String, label: String) -> URL? {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cilbench-\(label)-\(getpid())")
        try? FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        guard let r = try? run("/bin/mount", ["-t", "tmpfs", "-o", options, "tmpfs", folder.path]), r.status == 0 else {
            print("skipped: cannot mount a tmpfs at \(folder.path) (needs root and mount rights)")
            try? FileManager.default.removeItem(at: folder)
            return nil
        }
        return folder
    }

    static func unmount(_ folder: URL) {
        _ = try? run("/bin/umount", [folder.path])
        try? FileManager.default.removeItem(at: folder)
    }

    @Test func readOnlyOutputFolderIsRefusedBeforeTraining() throws {
        guard let folder = Self.mount("ro,size=1m", label: "readonly") else { return }
        defer { Self.unmount(folder) }
        let r = try runCilbench(Self.cell + ["--out", folder.path, "--protocols", tool!.protocols], timeout: 120)
        #expect(r.status == 2)
        let lines = r.stderr.split(separator: "\n")
        #expect(lines.count == 1 && lines[0].hasPrefix("error: ") && r.stderr.contains(folder.path), "\(r.stderr)")
    }

    /// A disk that fills up: the phase-0 checkpoint cannot be written, so the run stops at
    /// once with the error (no later phase trains), writes no bundle, leaves no partial file
    /// and keeps the bundle already on the disk.
    @Test func fullDiskStopsTheRunAtTheFirstFailedCheckpoint() throws {
        guard let folder = Self.mount("size=512k", label: "full") else { return }
        defer { Self.unmount(folder) }
        let existing = folder.appendingPathComponent("kept/bundle.tar.zst")
        try ResultBundle.write(try sampleResult(), to: existing.path)
        let before = try Data(contentsOf: existing)
        let r = try runCilbench(Self.cell + ["--out", folder.path, "--protocols", tool!.protocols], timeout: 300)
        #expect(r.status == 2)
        let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        #expect(errors.count == 1 && errors[0].contains("seed-1993.checkpoint") && errors[0].contains("No space left"), "\(r.stderr)")
        #expect(!r.stderr.contains("phase 2/3"), "a later phase trained after the failed checkpoint")
        #expect(ResultBundle.find(in: [folder.appendingPathComponent("smoke").path]).isEmpty)
        #expect(partialFiles(under: folder).isEmpty, "\(partialFiles(under: folder))")
        #expect(try Data(contentsOf: existing) == before)
    }
}

final class LockedResults: @unchecked Sendable {
    typealias Result = (status: Int32, signalled: Bool, stdout: String, stderr: String, hung: Bool)
    private var results: [Result] = []
    private let lock = NSLock()
    func append(_ r: Result?) { guard let r else { return }; lock.lock(); results.append(r); lock.unlock() }
    var all: [Result] { lock.lock(); defer { lock.unlock() }; return results }
}
