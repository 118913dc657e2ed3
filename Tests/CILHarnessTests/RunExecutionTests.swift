import CILHarness
import Foundation
import Testing

/// `RunExecution`, the run path shared by `cilbench run`, `replay` and the grid: bundle
/// paths, the cell lock, refusal to replace other settings' bundles, and a failed
/// checkpoint write ending the run at once.
@Suite(.serialized)
struct RunExecutionTests {
    static let build = BuildIdentity(version: "test", revision: "test", executableDigest: nil)

    static func request(_ overrides: [String] = [], method: String = "lwf") throws -> RunRequest {
        let file = try ProtocolLibrary.locate(explicit: protocolsFolder).load("smoke", overrides: overrides)
        return RunRequest(protocol: file, method: method, aanets: false, seed: 7, dataRoot: nil, threads: 1)
    }

    @Test func bundlePathsIdentifyTheirSettings() throws {
        let out = URL(fileURLWithPath: "/tmp/out")
        let plain = try Self.request()
        #expect(RunExecution.bundleURL(out: out, protocol: plain.protocolFile, method: "lwf", aanets: false, seed: 7).path
                == "/tmp/out/smoke/lwf/seed-7.tar.zst")
        #expect(RunExecution.bundleURL(out: out, protocol: plain.protocolFile, method: "lucir", aanets: true, seed: 1).path
                == "/tmp/out/smoke/lucir+aanets/seed-1.tar.zst")
        let one = try Self.request(["training.epochs=1"]), three = try Self.request(["training.epochs=3"])
        let a = RunExecution.bundleURL(out: out, protocol: one.protocolFile, method: "lwf", aanets: false, seed: 7).path
        let b = RunExecution.bundleURL(out: out, protocol: three.protocolFile, method: "lwf", aanets: false, seed: 7).path
        #expect(a != b && a.hasPrefix("/tmp/out/smoke@") && a.hasSuffix("/lwf/seed-7.tar.zst"))
        // The same settings reached by other overrides share the path.
        let again = try Self.request(["training.epochs=5", "training.epochs=1"])
        #expect(RunExecution.bundleURL(out: out, protocol: again.protocolFile, method: "lwf", aanets: false, seed: 7).path == a)
    }

    @Test(arguments: ["../x", "a/b", "", ".hidden", "-x", "x y", String(repeating: "a", count: 65)])
    func unsafeProtocolNamesAreRefused(name: String) {
        #expect(throws: RunExecutionError.self) { try RunExecution.checkSafeName(name) }
    }

    @Test func overriddenUnsafeNameNamesTheFlag() throws {
        do {
            _ = try ProtocolLibrary.locate(explicit: protocolsFolder).load("smoke", overrides: ["name=../../x"])
            Issue.record("an unsafe name was accepted")
        } catch {
            #expect(error.description.contains("--set name=../../x") && error.description.contains("not a safe folder name"), "\(error)")
        }
    }

    @Test func aSecondExecutionOfTheSameCellIsRefusedWhileTheFirstHoldsIt() throws {
        let out = try temporaryFolder("lock")
        defer { try? FileManager.default.removeItem(at: out) }
        let first = try RunExecution(request: try Self.request(), outputFolder: out, options: .init(build: Self.build))
        #expect(throws: RunExecutionError.self) {
            _ = try RunExecution(request: try Self.request(), outputFolder: out, options: .init(build: Self.build))
        }
        _ = try first.execute()
        // Released after execute: a later run of the cell (same settings) may replace the bundle.
        var replacing = false
        let second = try RunExecution(request: try Self.request(), outputFolder: out, options: .init(build: Self.build)) { event in
            if case .replacingBundle = event { replacing = true }
        }
        #expect(replacing)
        _ = second
    }

    @Test func aBundleOfOtherSettingsAtThePathIsNotReplaced() throws {
        let out = try temporaryFolder("replace")
        defer { try? FileManager.default.removeItem(at: out) }
        let outcome = try RunExecution(request: try Self.request(), outputFolder: out, options: .init(build: Self.build)).execute()
        let before = try Data(contentsOf: outcome.bundleURL!)
        // Edit the protocol file itself (no --set): same path, other settings.
        let edited = out.appendingPathComponent("smoke.yaml")
        let text = try String(contentsOfFile: protocolsFolder + "/smoke.yaml", encoding: .utf8).replacingOccurrences(of: "  epochs: 2", with: "  epochs: 1")
        try text.write(to: edited, atomically: true, encoding: .utf8)
        let file = try CILProtocol.load(file: edited.path)
        let request = RunRequest(protocol: file, method: "lwf", aanets: false, seed: 7, dataRoot: nil, threads: 1)
        do {
            _ = try RunExecution(request: request, outputFolder: out, options: .init(build: Self.build))
            Issue.record("a bundle of other settings would have been replaced")
        } catch let error as RunExecutionError {
            #expect(error.description.contains("other settings") && error.description.contains("--out"), "\(error)")
        }
        #expect(try Data(contentsOf: outcome.bundleURL!) == before)
    }

    /// A checkpoint that cannot be written stops the run after that phase, with the error;
    /// no bundle appears and no later phase trains.
    @Test func aFailedCheckpointWriteStopsTheRunAtOnce() throws {
        let out = try temporaryFolder("checkpoint")
        defer { try? FileManager.default.removeItem(at: out) }
        let execution = try RunExecution(request: try Self.request(), outputFolder: out, options: .init(phaseZeroCache: false, build: Self.build))
        // A non-empty folder where the checkpoint goes: the rename onto it fails.
        try FileManager.default.createDirectory(at: execution.checkpointURL!.appendingPathComponent("blocker"), withIntermediateDirectories: true)
        #expect(throws: HarnessError.self) { _ = try execution.execute() }
        #expect(execution.runner.records.count == 1)
        #expect(!FileManager.default.fileExists(atPath: execution.bundleURL!.path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: execution.bundleURL!.deletingLastPathComponent().path)
        #expect(!leftovers.contains { $0.contains("partial") }, "\(leftovers)")
    }

    /// A run without an output folder writes nothing and gives the same result as one with.
    @Test func anExecutionWithoutOutputWritesNothingAndAgrees() throws {
        let out = try temporaryFolder("nooutput")
        defer { try? FileManager.default.removeItem(at: out) }
        let written = try RunExecution(request: try Self.request(), outputFolder: out, options: .init(phaseZeroCache: false, build: Self.build)).execute()
        let dry = try RunExecution(request: try Self.request(), outputFolder: nil, options: .init(build: Self.build)).execute()
        #expect(dry.bundleURL == nil)
        #expect(dry.result.phases.map(\.parameterDigest) == written.result.phases.map(\.parameterDigest))
        #expect(dry.result.cnn == written.result.cnn)
    }
}
