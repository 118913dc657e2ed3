// `cilbench data`: check a user's copy of a dataset, and measure batch assembly.
import ArgumentParser
import CILData
import Foundation

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Dataset checks and loader measurements.",
        subcommands: [Check.self, Bench.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Images per class and split, file checksums and a verdict for a dataset copy.")

        @Argument(help: "One of: \(DatasetCheck.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var dataset: String

        @Option(help: "Folder holding the dataset (default for fashion-mnist: \(FashionMNIST.debianRoot)).")
        var dataRoot: String?

        func run() throws {
            guard let kind = DatasetCheck.Kind(rawValue: dataset) else {
                throw ValidationError("unknown dataset '\(dataset)'; expected one of \(DatasetCheck.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            guard let root = dataRoot ?? kind.defaultRoot else {
                throw ValidationError("\(dataset) has no default location; pass --data-root DIR")
            }
            let report: DatasetReport
            do {
                report = try DatasetCheck.run(kind, root: root)
            } catch let error as DataError {
                printError("error: \(error)")
                throw ExitCode(2)
            }
            print("\(report.dataset) at \(report.root)")
            for split in report.splits {
                let uniform = Set(split.perClass).count == 1 ? ", \(grouped(split.perClass[0])) per class" : ""
                print("\(split.name): \(grouped(split.imageCount)) images in \(split.perClass.count) classes\(uniform)")
            }
            print("images per class:")
            let header = report.splits.map(\.name)
            for (c, name) in report.classNames.enumerated() {
                let counts = zip(header, report.splits).map { "\($0) \(grouped($1.perClass[c]))" }.joined(separator: ", ")
                print("  \(c) \(name): \(counts)")
            }
            if !report.files.isEmpty {
                print("files (SHA-256):")
                for file in report.files {
                    let official = file.matches.map { $0 ? "matches the official checksum" : "DOES NOT match the official checksum" }
                        ?? "no official checksum pinned"
                    print("  \(file.path)  \(grouped(file.bytes)) bytes  \(file.sha256)  (\(official))")
                }
            }
            let problems = report.problems
            if problems.isEmpty {
                print("verdict: OK, \(report.splits.map { "\($0.name) \($0.expectedPerClass.map { grouped($0) + " per class" } ?? "counted")" }.joined(separator: ", ")) as in the official dataset")
            } else {
                for problem in problems { printError("problem: \(problem)") }
                printError("verdict: FAIL, this copy differs from the official dataset")
                throw ExitCode(1)
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure CIFAR-shaped batch assembly (batch 128, RandomCrop(32, 4) + flip + jitter + normalise).")

        @Option(help: "fashion-mnist (Debian copy, padded to 32x32x3) or synthetic-cifar (written and read back as CIFAR-100 binary).")
        var dataset = "synthetic-cifar"

        @Option(help: "Folder for fashion-mnist.")
        var dataRoot = FashionMNIST.debianRoot

        @Option(help: "Assembly threads.")
        var threads = 1

        @Option(help: "Milliseconds of one training step of 128 images, for the loader's share.")
        var stepMilliseconds = 160.0

        func run() throws {
            do {
                let data = try load()
                let norm = Normalization.measured(on: data)
                let preprocessing = Preprocessing(spatial: .randomCrop(size: 32, padding: 4), horizontalFlip: true,
                                                  brightness: Preprocessing.jitter63, normalization: norm)
                let assembler = BatchAssembler(source: data, preprocessing: preprocessing, seed: 1993)
                let indices = Array(0..<data.count)
                let plan = BatchLoader.plan(indices: indices, batchSize: 128, seed: 1993, phase: 0, epoch: 0, shuffle: true, dropLast: true)
                var start = Date()
                for batch in plan { _ = try assembler.assemble(indices: batch, phase: 0, epoch: 0, threads: threads) }
                let direct = Double(plan.count * 128) / Date().timeIntervalSince(start)
                // Through the background loader: the consumer's wait per batch is what
                // training would see (here the consumer does no work, the worst case).
                start = Date()
                let loader = try BatchLoader(assembler: assembler, indices: indices, batchSize: 128, phase: 0, epoch: 1, dropLast: true, threads: threads)
                var n = 0
                while let b = try loader.next() { n += b.labels.count }
                let loaded = Double(n) / Date().timeIntervalSince(start)
                let msPerBatch = 128 / direct * 1000
                print("\(dataset): \(data.count) images \(data.height)x\(data.width)x\(data.channels), \(threads) thread(s)")
                print("batch assembly: \(Int(direct)) images/s (\(String(format: "%.2f", msPerBatch)) ms per batch of 128)")
                print("through BatchLoader (prefetch 2): \(Int(loaded)) images/s")
                print("share of a \(Int(stepMilliseconds)) ms training step if not overlapped: \(String(format: "%.2f", 100 * msPerBatch / stepMilliseconds))%")
            } catch let error as DataError {
                printError("error: \(error)")
                throw ExitCode(2)
            }
        }

        func load() throws -> ImageDataset {
            switch dataset {
            case "fashion-mnist":
                return try FashionMNIST.read(root: dataRoot, split: .train).padded(to: 32, channels: 3)
            case "synthetic-cifar":
                let dir = NSTemporaryDirectory() + "cilbench-bench-\(ProcessInfo.processInfo.processIdentifier)"
                defer { try? FileManager.default.removeItem(atPath: dir) }
                let synthetic = try SyntheticImages.dataset(classCount: 100, perClass: 100, seed: 1)
                try DatasetWriters.writeCIFARBinary(synthetic, variant: .cifar100, split: .train, root: dir)
                return try CIFAR.readBinary(root: dir, variant: .cifar100, split: .train)
            default:
                throw ValidationError("unknown bench dataset '\(dataset)'; use fashion-mnist or synthetic-cifar")
            }
        }
    }
}

/// 6000 → "6,000".
private func grouped(_ n: Int) -> String {
    let digits = String(n)
    var out = ""
    for (i, ch) in digits.enumerated() {
        if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
        out.append(ch)
    }
    return out
}

private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}
