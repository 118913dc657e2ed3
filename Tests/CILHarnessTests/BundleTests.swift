import CILHarness
import Foundation
import Testing

@Suite struct BundleTests {
    @Test func writeThenReadGivesTheSameResult() throws {
        let out = try temporaryFolder("bundle")
        let r = try sampleResult()
        let path = try ResultBundle.write(r, outputFolder: out.path)
        #expect(path == out.path + "/smoke/lucir/seed-1.tar.zst")
        #expect(try ResultBundle.read(path: path) == r)
        // No temporary file is left beside it.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path + "/smoke/lucir") == ["seed-1.tar.zst"])
        let aanets = try ResultBundle.write(try sampleResult(seed: 2, aanets: true), outputFolder: out.path)
        #expect(aanets.hasSuffix("/smoke/lucir+aanets/seed-2.tar.zst"))
    }

    @Test func sameResultSameBytes() throws {
        #expect(try ResultBundle.encode(try sampleResult()) == ResultBundle.encode(try sampleResult()))
    }

    @Test func gnuTarListsAndExtractsTheBundle() throws {
        let out = try temporaryFolder("tar")
        let path = try ResultBundle.write(try sampleResult(), outputFolder: out.path)
        let listing = try run("/usr/bin/tar", ["--zstd", "-tf", path])
        #expect(listing.status == 0, "\(listing.error)")
        let folder = "smoke_lucir_seed-1"
        #expect(listing.output.split(separator: "\n").map(String.init) == [folder + "/"] + ResultBundle.memberNames.map { "\(folder)/\($0)" })
        let extracted = try run("/usr/bin/tar", ["--zstd", "-xf", path], in: out)
        #expect(extracted.status == 0, "\(extracted.error)")
        let dir = out.appendingPathComponent(folder)
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("manifest.json"))) as? [String: Any]
        #expect(manifest?["schemaVersion"] as? Int == 2)
        #expect(manifest?["protocolName"] as? String == "smoke")
        #expect(manifest?["seed"] as? Int == 1)
        #expect((manifest?["metrics"] as? [String: Any])?["cnn"] != nil)
        let accuracy = try String(contentsOf: dir.appendingPathComponent("accuracy.csv"), encoding: .utf8)
        // Phase 1: (30 + 27) / 70 correct for the CNN.
        #expect(accuracy.split(separator: "\n")[2].hasPrefix("1,7,70,81.4286,"))
        let digests = try String(contentsOf: dir.appendingPathComponent("digests.csv"), encoding: .utf8)
        #expect(digests.split(separator: "\n")[1] == "0,deadbeef00000001,0123456789abcdef,0000000000000000")
        let log = try String(contentsOf: dir.appendingPathComponent("log.jsonl"), encoding: .utf8)
        #expect(log.split(separator: "\n").count == 6)
        let svg = try String(contentsOf: dir.appendingPathComponent("curves.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("phase-0 classes"))
    }

    @Test func rePackedByGnuTarStillReads() throws {
        let out = try temporaryFolder("repack")
        let path = try ResultBundle.write(try sampleResult(), outputFolder: out.path)
        try run("/usr/bin/tar", ["--zstd", "-xf", path], in: out)
        let repacked = out.appendingPathComponent("repacked.tar.zst").path
        #expect(try run("/usr/bin/tar", ["--zstd", "-cf", repacked, "-C", out.path, "smoke_lucir_seed-1"]).status == 0)
        #expect(try ResultBundle.read(path: repacked) == sampleResult())
    }

    @Test func otherSchemaVersionIsRejectedWithOneLine() throws {
        let out = try temporaryFolder("schema")
        let path = try ResultBundle.write(try sampleResult(), outputFolder: out.path)
        try run("/usr/bin/tar", ["--zstd", "-xf", path], in: out)
        let manifestURL = out.appendingPathComponent("smoke_lucir_seed-1/manifest.json")
        let text = try String(contentsOf: manifestURL, encoding: .utf8)
        #expect(text.contains("\"schemaVersion\" : 2,"))
        try text.replacingOccurrences(of: "\"schemaVersion\" : 2,", with: "\"schemaVersion\" : 3,").write(to: manifestURL, atomically: true, encoding: .utf8)
        let doctored = out.appendingPathComponent("v3.tar.zst").path
        try run("/usr/bin/tar", ["--zstd", "-cf", doctored, "-C", out.path, "smoke_lucir_seed-1"])
        do {
            _ = try ResultBundle.read(path: doctored)
            Issue.record("a version-3 bundle was accepted")
        } catch {
            #expect(error.error == .unsupportedSchema(found: 3, supported: 2))
            #expect(error.description == "\(doctored): result bundle has manifest schema version 3; this cilbench reads versions up to 2")
        }
    }

    @Test func corruptBundlesAreRejected() throws {
        let good = try ResultBundle.encode(try sampleResult())
        var flipped = good
        flipped[flipped.count / 2] ^= 0xff
        var cases: [(String, [UInt8])] = [("flipped byte", flipped), ("truncated", Array(good.prefix(good.count / 2))),
                                           ("empty", []), ("not zstd", Array("hello".utf8))]
        // Valid zstd around something that is not a tar archive.
        let out = try temporaryFolder("corrupt")
        let plain = out.appendingPathComponent("plain.txt")
        try Data(repeating: 0x41, count: 2000).write(to: plain)
        try run("/usr/bin/zstd", ["-q", plain.path, "-o", plain.path + ".zst"])
        cases.append(("zstd of text", Array(try Data(contentsOf: URL(fileURLWithPath: plain.path + ".zst")))))
        for (label, bytes) in cases {
            do {
                _ = try ResultBundle.decode(bytes)
                Issue.record("\(label) was accepted")
            } catch {
                guard case .corrupt = error else { Issue.record("\(label): \(error)"); continue }
                #expect(!error.description.contains("\n"), "\(label)")
            }
        }
        #expect(throws: BundleFileError.self) { try ResultBundle.read(path: out.path + "/missing.tar.zst") }
    }

    @Test func inconsistentResultsAreNotWritten() throws {
        var r = try sampleResult()
        r.phases.removeLast()
        #expect(throws: BundleError.invalidResult("2 phase records for 3 evaluated phases")) { try ResultBundle.encode(r) }
    }

    @Test func unwritableFolderFailsWithoutLeavingFiles() throws {
        let out = try temporaryFolder("ro")
        let blocker = out.appendingPathComponent("file")
        try Data().write(to: blocker)
        // The output "folder" is a file, so the bundle's folder cannot be made.
        #expect(throws: BundleError.self) { try ResultBundle.write(try sampleResult(), outputFolder: blocker.path) }
    }

    @Test func findWalksFoldersForBundles() throws {
        let out = try temporaryFolder("find")
        let a = try ResultBundle.write(try sampleResult(seed: 1), outputFolder: out.path)
        let b = try ResultBundle.write(try sampleResult(seed: 2, aanets: true), outputFolder: out.path)
        #expect(ResultBundle.find(in: [out.path]) == [a, b].sorted())
    }

    @Test func environmentRecordsHostAndEngine() {
        let env = RunEnvironment.collect(engine: ["threads": "2", "onednn_isa": "avx2"])
        #expect(env["threads"] == "2" && env["onednn_isa"] == "avx2")
        #expect(env["os"] != nil && env["cpu_model"] != nil && env["swift_version"] != nil && env["zstd_version"] != nil)
    }
}
