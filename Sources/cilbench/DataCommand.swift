// `cilbench data`: check a user's copy of a dataset, and measure batch assembly.
import ArgumentParser
import CILData
import CILKernels
import CILNetworks
import Foundation

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Dataset checks and loader measurements.",
        subcommands: [Check.self, Bench.self])

    struct Check: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Images per class and split, file checksums and a verdict for a dataset copy.")

        @Argument(help: "One of: cifar10 (binary or python, whichever is there), \(DatasetCheck.Kind.allCases.map(\.rawValue).joined(separator: ", ")).")
        var dataset: String

        @Option(help: "Folder holding the dataset (default for fashion-mnist: \(FashionMNIST.debianRoot)).")
        var dataRoot: String?

        @Option(help: "Threads decoding and hashing folder datasets.")
        var threads = 2

        func run() throws {
            guard let root = dataRoot ?? DatasetCheck.Kind(rawValue: dataset)?.defaultRoot else {
                if dataset != "cifar10" && DatasetCheck.Kind(rawValue: dataset) == nil {
                    throw ValidationError("unknown dataset '\(dataset)'; expected one of cifar10, \(DatasetCheck.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                throw ValidationError("\(dataset) has no default location; pass --data-root DIR")
            }
            let kind: DatasetCheck.Kind
            if dataset == "cifar10" {
                // The protocol kind's name: binary when a binary copy is there, else python.
                let fm = FileManager.default
                let python = !fm.fileExists(atPath: root + "/cifar-10-batches-bin") && !fm.fileExists(atPath: root + "/data_batch_1.bin")
                    && (fm.fileExists(atPath: root + "/cifar-10-batches-py") || fm.fileExists(atPath: root + "/data_batch_1"))
                kind = python ? .cifar10Python : .cifar10
            } else {
                guard let k = DatasetCheck.Kind(rawValue: dataset) else {
                    throw ValidationError("unknown dataset '\(dataset)'; expected one of cifar10, \(DatasetCheck.Kind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                kind = k
            }
            let report: DatasetReport
            do {
                report = try DatasetCheck.run(kind, root: root, threads: threads)
            } catch let error as DataError {
                printError("error: \(error)")
                throw ExitCode(2)
            }
            print("\(report.dataset) at \(report.root)")
            for split in report.splits {
                let uniform = Set(split.perClass).count == 1 ? ", \(grouped(split.perClass[0])) per class" : ""
                print("\(split.name): \(grouped(split.imageCount)) images in \(split.perClass.count) classes\(uniform)")
            }
            print("images per class (label, class name):")
            let header = report.splits.map(\.name)
            for (c, name) in report.classNames.enumerated() {
                let counts = zip(header, report.splits).map { "\($0) \(grouped($1.perClass[c]))" }.joined(separator: ", ")
                print("  \(c) \(name): \(counts)")
            }
            if !report.imageSizes.isEmpty {
                print("image sizes (HxW: images): " + report.imageSizes.map { "\($0.size): \(grouped($0.count))" }.joined(separator: ", "))
            }
            if !report.files.isEmpty {
                print("files (SHA-256):")
                for file in report.files {
                    let official = file.matches.map { $0 ? "matches the official checksum" : "DOES NOT match the official checksum" }
                        ?? "no official checksum pinned"
                    print("  \(file.path)  \(grouped(file.bytes)) bytes  \(file.sha256)  (\(official))")
                }
            }
            if let digest = report.digest {
                print("folder digest (SHA-256 over every image's path, size and SHA-256): \(digest)")
            }
            for note in report.notes { print("note: \(note)") }
            let problems = report.problems
            if problems.isEmpty {
                let counts = report.splits.map { "\($0.name) \($0.expectedPerClass.map { grouped($0) + " per class" } ?? "counted")" }.joined(separator: ", ")
                let official = report.splits.contains { $0.expectedPerClass != nil } ? " as in the official dataset" : ""
                print("verdict: OK, \(report.digest == nil ? "" : "every image decodes; ")\(counts)\(official)")
            } else {
                for problem in problems { printError("problem: \(problem)") }
                printError("verdict: FAIL, this copy differs from the official dataset")
                throw ExitCode(1)
            }
        }
    }

    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure batch assembly: CIFAR-shaped in memory, or folder images decoded per batch.",
            discussion: """
            In-memory sets (fashion-mnist, synthetic-cifar): batch 128, RandomCrop(32, 4) + flip + jitter + normalise.
            Folder sets (image-folder, tiny-imagenet, tiny-imagenet-synthetic): every image decoded from its file per
            batch (JPEG or PNG), then RandomResizedCrop(side) + flip + ImageNet normalisation, batch 128.
            With --train-step, also a ResNet-18 training step on batches of that side, alone and with the background
            loader decoding beside it, as a run does.
            """)

        @Option(help: "fashion-mnist, synthetic-cifar, image-folder, tiny-imagenet or tiny-imagenet-synthetic (written as JPEG 64x64 in the official layout to a temporary folder).")
        var dataset = "synthetic-cifar"

        @Option(help: "Folder for fashion-mnist, image-folder and tiny-imagenet.")
        var dataRoot: String?

        @Option(help: "Assembly threads (default 1 in memory, 2 for folders).")
        var threads: Int?

        @Option(help: "tiny-imagenet-synthetic: images per class (200 classes).")
        var imagesPerClass = 16

        @Option(help: "Folder sets: batches timed.")
        var batches = 12

        @Option(help: "Milliseconds of one training step of 128 images, for the loader's share (in-memory sets).")
        var stepMilliseconds = 160.0

        @Flag(help: "Folder sets: also time a ResNet-18 training step (2 threads) alone and beside the loader.")
        var trainStep = false

        @Option(help: "With --train-step: timed steps (after 2 warm-up steps).")
        var steps = 4

        func run() throws {
            do {
                if ["image-folder", "tiny-imagenet", "tiny-imagenet-synthetic"].contains(dataset) { return try runFolder() }
                let threads = self.threads ?? 1
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
                return try FashionMNIST.read(root: dataRoot ?? FashionMNIST.debianRoot, split: .train).padded(to: 32, channels: 3)
            case "synthetic-cifar":
                let dir = NSTemporaryDirectory() + "cilbench-bench-\(ProcessInfo.processInfo.processIdentifier)"
                defer { try? FileManager.default.removeItem(atPath: dir) }
                let synthetic = try SyntheticImages.dataset(classCount: 100, perClass: 100, seed: 1)
                try DatasetWriters.writeCIFARBinary(synthetic, variant: .cifar100, split: .train, root: dir)
                return try CIFAR.readBinary(root: dir, variant: .cifar100, split: .train)
            default:
                throw ValidationError("unknown bench dataset '\(dataset)'; use fashion-mnist, synthetic-cifar, image-folder, tiny-imagenet or tiny-imagenet-synthetic")
            }
        }

        /// Folder images decoded per batch, never cached: the loader ImageNet-sized data gets.
        func runFolder() throws {
            let threads = self.threads ?? 2
            var temporary: String?
            defer { if let temporary { try? FileManager.default.removeItem(atPath: temporary) } }
            let train: ImageFolderDataset
            switch dataset {
            case "image-folder":
                guard let dataRoot else { throw ValidationError("image-folder needs --data-root") }
                train = try FolderDatasets.openImageFolder(root: dataRoot).train
            case "tiny-imagenet":
                guard let dataRoot else { throw ValidationError("tiny-imagenet needs --data-root") }
                train = try FolderDatasets.openTinyImageNet(root: dataRoot).train
            default:
                let dir = NSTemporaryDirectory() + "cilbench-bench-\(ProcessInfo.processInfo.processIdentifier)"
                temporary = dir
                let wnids = (0..<200).map { String(format: "n%08d", 1_000_000 + $0 * 7919) }
                let images = try SyntheticImages.dataset(classCount: 200, perClass: imagesPerClass, height: 64, width: 64, seed: 1, split: "train")
                let val = try SyntheticImages.dataset(classCount: 200, perClass: 1, height: 64, width: 64, seed: 2, split: "val")
                try DatasetWriters.writeTinyImageNet(train: images, val: val, wnids: wnids, root: dir)
                train = try FolderDatasets.openTinyImageNet(root: dir).train
            }
            let side = try FolderDatasets.uniformSize(train, threads: threads)
            let crop = min(side.height, side.width)
            let preprocessing = Preprocessing(spatial: .randomResizedCrop(size: crop), horizontalFlip: true, brightness: nil, normalization: .imageNet)
            let assembler = BatchAssembler(source: train, preprocessing: preprocessing, seed: 1993)
            let indices = Array(0..<train.count)
            let plan = Array(BatchLoader.plan(indices: indices, batchSize: 128, seed: 1993, phase: 0, epoch: 0, shuffle: true, dropLast: true).prefix(batches))
            guard !plan.isEmpty else { throw ValidationError("fewer than 128 images: nothing to time") }
            _ = try assembler.assemble(indices: plan[0], phase: 0, epoch: 0, threads: threads)  // warm the file cache
            var start = Date()
            for batch in plan { _ = try assembler.assemble(indices: batch, phase: 0, epoch: 0, threads: threads) }
            let direct = Double(plan.count * 128) / Date().timeIntervalSince(start)
            start = Date()
            _ = try assembler.assemble(indices: plan[0], phase: 0, epoch: 0, threads: 1)
            for batch in plan.dropFirst() { _ = try assembler.assemble(indices: batch, phase: 0, epoch: 0, threads: 1) }
            let single = Double(plan.count * 128) / Date().timeIntervalSince(start)
            print("\(dataset): \(grouped(train.count)) training images \(side.height)x\(side.width), decoded per batch (JPEG/PNG from file) + RandomResizedCrop(\(crop)) + flip + normalise, batch 128")
            print("loader, \(threads) thread(s): \(Int(direct)) images/s (\(String(format: "%.1f", 128 / direct * 1000)) ms per batch)")
            print("loader, 1 thread: \(Int(single)) images/s")
            guard trainStep else { return }
            let step = try ResNet18Step(side: crop, classes: train.classNames.count)
            let batch = try assembler.assemble(indices: plan[0], phase: 0, epoch: 0, threads: threads)
            for _ in 0..<2 { try step.run(batch) }  // warm-up: oneDNN creates its primitives
            let timed = max(1, min(steps, plan.count))
            start = Date()
            for _ in 0..<timed { try step.run(batch) }
            let alone = Double(timed * 128) / Date().timeIntervalSince(start)
            // As a run trains: the background loader (one assembly thread) fills batches
            // while the step runs on the compute threads.
            let loader = try BatchLoader(assembler: assembler, indices: plan.prefix(timed).flatMap { $0 }, batchSize: 128, phase: 0, epoch: 0,
                                         shuffle: false, dropLast: true)
            start = Date()
            var n = 0
            while let b = try loader.next() { try step.run(b); n += b.labels.count }
            let together = Double(n) / Date().timeIntervalSince(start)
            print("ResNet-18 training step (\(crop)x\(crop), \(train.classNames.count) classes, batch 128, 2 threads): \(Int(alone)) images/s alone")
            print("the same steps fed by the background loader (per-batch decoding): \(Int(together)) images/s (\(String(format: "%.0f", 100 * together / alone))% of alone)")
            print("loader/step ratio: \(String(format: "%.1f", direct / alone))x (the loader \(direct >= alone ? "keeps up" : "does NOT keep up"))")
        }
    }
}

/// One ResNet-18 SGD step on a batch: the model a 64x64 or 224x224 folder protocol trains.
final class ResNet18Step {
    let engine: ComputeEngine
    let network: Network
    var optimizer = SGD(learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4)

    init(side: Int, classes: Int) throws {
        engine = try ComputeEngine(threads: 2)
        network = Network(backbone: ResNet(.resnet18, seed: 1), head: LinearHead(featureDimension: 512, classes: classes, seed: 1))
    }

    func run(_ batch: Batch) throws {
        let g = Graph(engine: engine)
        let out = try network.forward(g, images: g.constant(batch.images), mode: .training)
        let loss = g.crossEntropy(out.logits, labels: batch.labels.map { Int32($0) })
        try g.backward(from: loss)
        optimizer.step(network.parameters)
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
