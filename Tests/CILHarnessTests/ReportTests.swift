import CILHarness
import Foundation
import Testing

@Suite struct TableTests {
    @Test func meanAndStandardDeviationOverSeeds() throws {
        // CNN average incremental accuracy: (90 + 57/70·100 + (a+b+c)/100·100) / 3.
        let a = try sampleResult(seed: 1, protocolName: "cifar100-b50-5", cnnLast: [20, 15, 25])  // A_2 = 60
        let b = try sampleResult(seed: 2, protocolName: "cifar100-b50-5", cnnLast: [26, 15, 25])  // A_2 = 66
        let c = try sampleResult(seed: 1, aanets: true, protocolName: "cifar100-b50-5")
        let table = AccuracyTable(results: [b, c, a])
        #expect(table.rows == ["lucir", "lucir+aanets"])
        #expect(table.columns.map(\.label) == ["cifar100-b50-5"])
        let cell = try #require(table.cells["lucir"]?["cifar100-b50-5"])
        #expect(cell.seeds == [1, 2])
        let expectedMean = (90 + 570.0 / 7 + 63) / 3
        #expect(abs(cell.mean - expectedMean) < 1e-9)
        // The two runs differ by 6/3 = 2 points, so the sample std is sqrt(2).
        #expect(abs(cell.standardDeviation! - 2.0.squareRoot()) < 1e-9)
        #expect(table.cells["lucir+aanets"]?["cifar100-b50-5"]?.standardDeviation == nil)
    }

    @Test func paperColumnNeverInventsValues() throws {
        let lucir = try sampleResult(protocolName: "cifar100-b50-5")
        let plug = try sampleResult(aanets: true, protocolName: "cifar100-b50-5")
        let md = AccuracyTable(results: [lucir, plug]).markdown(paper: true)
        #expect(md.contains("paper 63.17"))                            // LUCIR, AANets Table 1 via [ACIL]
        #expect(md.split(separator: "\n").first { $0.hasPrefix("| lucir+aanets") }?.contains("paper: unknown") == true)
        #expect(PaperResults.averageIncrementalAccuracy(methodLabel: "podnet+aanets", protocolName: "imagenet-subset-podnet-b50-5") == 76.96)
        #expect(PaperResults.averageIncrementalAccuracy(methodLabel: "podnet", protocolName: "imagenet-subset-b50-5") == nil)
        #expect(PaperResults.averageIncrementalAccuracy(methodLabel: "icarl", protocolName: "imagenet-b500-5") == nil)
        #expect(PaperResults.averageIncrementalAccuracy(methodLabel: "lucir", protocolName: "fmnist-b5-5") == nil)
        let csv = AccuracyTable(results: [lucir, plug]).csv(paper: true)
        #expect(csv.contains(",63.17,") && csv.contains(",unknown,"))
    }

    @Test func paperDifferenceOnlyInThePapersSetting() throws {
        var faithful = try sampleResult(protocolName: "cifar100-b50-5")
        faithful.protocolOverrides = []
        var overridden = try sampleResult(seed: 2, protocolName: "cifar100-b50-5")
        overridden.protocolOverrides = ["training.epochs=3"]
        func row(_ md: String, _ label: String) -> String { md.split(separator: "\n").first { $0.hasPrefix("| \(label) |") }.map(String.init) ?? "" }
        // One run with --set makes the whole cell incomparable: no Δ, the reason instead.
        let mixed = AccuracyTable(results: [faithful, overridden]).markdown(paper: true)
        #expect(row(mixed, "lucir").contains("paper 63.17 (not comparable: --set training.epochs=3)"))
        #expect(!row(mixed, "lucir").contains("Δ"))
        #expect(row(AccuracyTable(results: [faithful]).markdown(paper: true), "lucir").contains("Δ"))
        // An edited protocol file: the recorded fingerprint is not the shipped one.
        let edited = AccuracyTable(results: [faithful], shippedFingerprints: ["cifar100-b50-5": String(repeating: "9", count: 64)]).markdown(paper: true)
        #expect(row(edited, "lucir").contains("protocol differs from the shipped cifar100-b50-5"))
        let same = AccuracyTable(results: [faithful], shippedFingerprints: ["cifar100-b50-5": faithful.protocolFingerprint]).markdown(paper: true)
        #expect(row(same, "lucir").contains("Δ"))
        // The other classifier and the corrected fidelity are other settings too.
        var lucirCNN = faithful
        lucirCNN.hyperParameters["method.eval_classifier"] = "\"cnn\""
        #expect(row(AccuracyTable(results: [lucirCNN], classifier: .nme).markdown(paper: true), "lucir").contains("the paper reports CNN, this is NME"))
        var corrected = faithful
        corrected.hyperParameters["method.fidelity"] = "corrected"
        #expect(row(AccuracyTable(results: [corrected]).markdown(paper: true), "lucir").contains("fidelity: corrected"))
        let csv = AccuracyTable(results: [faithful, overridden]).csv(paper: true)
        #expect(csv.contains(",63.17,,--set training.epochs=3"))
        // A protocol Table 1 has no column for is not "unknown": the paper has no such setting.
        let fmnist = try sampleResult(protocolName: "fmnist-b5-5")
        #expect(row(AccuracyTable(results: [fmnist]).markdown(paper: true), "lucir").contains("paper: no such setting"))
    }

    @Test func differentFingerprintsGetDifferentColumns() throws {
        let a = try sampleResult(protocolName: "smoke", fingerprint: String(repeating: "1", count: 64))
        let b = try sampleResult(protocolName: "smoke", fingerprint: String(repeating: "2", count: 64))
        let table = AccuracyTable(results: [a, b])
        #expect(table.columns.map(\.label) == ["smoke@11111111", "smoke@22222222"])
    }
}

@Suite struct DiffTests {
    @Test func identicalWithinAndOutside() throws {
        let base = try sampleResult()
        #expect(BundleDiff(candidate: base, baseline: base, tolerance: 0).verdict == .identical)
        // One more correct phase-0-class image in the last phase: +1 point overall, +2.5 on phase 0.
        let better = try sampleResult(cnnLast: [21, 15, 25])
        let strict = BundleDiff(candidate: better, baseline: base, tolerance: 1)
        #expect(strict.verdict == .outsideTolerance)                   // a gain is a change too
        #expect(abs(strict.largestDeviation - 2.5) < 1e-9)
        #expect(BundleDiff(candidate: better, baseline: base, tolerance: 2.5).verdict == .withinTolerance)
        #expect(BundleDiff(candidate: base, baseline: better, tolerance: 1).verdict == .outsideTolerance)
        #expect(strict.report.contains("OUTSIDE TOLERANCE") && strict.report.contains("+2.50 !"))
    }

    @Test func differentMethodSettingsAreNotComparableAndSplitTableRows() throws {
        let a = try sampleResult()
        var b = try sampleResult(seed: 2)
        b.hyperParameters["method.lambda_base"] = "6"
        let diff = BundleDiff(candidate: a, baseline: b, tolerance: 100)
        guard case .notComparable(let why) = diff.verdict else { Issue.record("\(diff.verdict)"); return }
        #expect(why.contains("method.lambda_base"))
        let table = AccuracyTable(results: [a, b])
        #expect(table.rows.count == 2 && table.rows.allSatisfy { $0.hasPrefix("lucir@") })
    }

    @Test func differentFingerprintsAreNotComparable() throws {
        let a = try sampleResult(fingerprint: String(repeating: "1", count: 64))
        let b = try sampleResult(fingerprint: String(repeating: "2", count: 64))
        let diff = BundleDiff(candidate: a, baseline: b, tolerance: 100)
        guard case .notComparable = diff.verdict else { Issue.record("\(diff.verdict)"); return }
        #expect(diff.verdict.exitCode == 2 && diff.report.contains("NOT COMPARABLE"))
    }
}

/// The command line on real bundle files: exit statuses and one-line errors.
@Suite struct CommandLineTests {
    static var executable: String? {
        let candidate = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("cilbench").path
        return FileManager.default.isExecutableFile(atPath: candidate) ? candidate : nil
    }

    func cilbench(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        let exe = try #require(Self.executable, "the cilbench executable is built next to the test bundle")
        return try run(exe, arguments)
    }

    @Test func diffExitStatuses() throws {
        let out = try temporaryFolder("cli-diff")
        let base = try ResultBundle.write(try sampleResult(), outputFolder: out.path)
        let doctored = out.appendingPathComponent("doctored.tar.zst").path
        try ResultBundle.write(try sampleResult(cnnLast: [20, 15, 27]), to: doctored)
        let otherProtocol = out.appendingPathComponent("other.tar.zst").path
        try ResultBundle.write(try sampleResult(fingerprint: String(repeating: "c", count: 64)), to: otherProtocol)

        let same = try cilbench(["diff", base, base])
        #expect(same.status == 0 && same.output.contains("IDENTICAL"))
        let outside = try cilbench(["diff", doctored, base, "--tolerance", "1"])
        #expect(outside.status == 1 && outside.output.contains("OUTSIDE TOLERANCE"))
        #expect(try cilbench(["diff", doctored, base, "--tolerance", "2"]).status == 0)
        let incomparable = try cilbench(["diff", otherProtocol, base])
        #expect(incomparable.status == 2 && incomparable.output.contains("NOT COMPARABLE"))
    }

    @Test func badBundlesGiveOneErrorLine() throws {
        let out = try temporaryFolder("cli-bad")
        let good = try ResultBundle.write(try sampleResult(), outputFolder: out.path)
        let corrupt = out.appendingPathComponent("corrupt.tar.zst")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: good))
        bytes[bytes.count / 2] ^= 0x55
        try bytes.write(to: corrupt)
        // Another schema version, re-packed with GNU tar.
        try run("/usr/bin/tar", ["--zstd", "-xf", good], in: out)
        let manifest = out.appendingPathComponent("smoke_lucir_seed-1/manifest.json")
        let text = try String(contentsOf: manifest, encoding: .utf8).replacingOccurrences(of: "\"schemaVersion\" : 2,", with: "\"schemaVersion\" : 7,")
        try text.write(to: manifest, atomically: true, encoding: .utf8)
        let v7 = out.appendingPathComponent("v7.tar.zst").path
        try run("/usr/bin/tar", ["--zstd", "-cf", v7, "-C", out.path, "smoke_lucir_seed-1"])

        for args in [["show", corrupt.path], ["diff", corrupt.path, good], ["diff", good, v7], ["table", v7], ["show", out.path + "/none.tar.zst"]] {
            let r = try cilbench(args)
            #expect(r.status == 2, "\(args)")
            #expect(r.error.hasPrefix("error: ") && r.error.split(separator: "\n").count == 1, "\(args): \(r.error)")
        }
        #expect(try cilbench(["show", v7]).error.contains("schema version 7"))
        let shown = try cilbench(["show", good])
        #expect(shown.status == 0 && shown.output.contains("average incremental accuracy"))
        let table = try cilbench(["table", out.path + "/smoke", "--paper"])
        #expect(table.status == 0 && table.output.contains("| lucir |"))
    }

    @Test func protocolsListAndShow() throws {
        let list = try cilbench(["protocols", "list", "--protocols", protocolsFolder])
        #expect(list.status == 0 && list.output.contains("cifar100-b50-5") && list.output.contains("smoke"))
        let show = try cilbench(["protocols", "show", "smoke", "--protocols", protocolsFolder, "--set", "training.epochs=3"])
        #expect(show.status == 0 && show.output.contains("training.epochs = 3") && show.output.contains("phase 2: 3 new, 10 seen"))
        let bad = try cilbench(["protocols", "show", "smoke", "--protocols", protocolsFolder, "--set", "classes.per_phase=4"])
        #expect(bad.status == 2 && bad.error == "error: --set classes.per_phase=4: classes.per_phase: 4 classes per phase do not divide the 6 classes after the 4 base classes\n")
    }
}
