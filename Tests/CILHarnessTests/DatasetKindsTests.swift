import CILData
import CILHarness
import Foundation
import Testing

private let tool = builtCilbench

/// Where the generated datasets go: a fresh temporary folder, or, with
/// CILBENCH_TEST_DATA_OUT set, that folder (kept, so the runs can be repeated by hand).
private func dataFolder(_ tag: String) throws -> (path: String, keep: Bool) {
    if let out = ProcessInfo.processInfo.environment["CILBENCH_TEST_DATA_OUT"], !out.isEmpty {
        let path = out + "/" + tag
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return (path, true)
    }
    let path = NSTemporaryDirectory() + "cilbench-\(tag)-\(getpid())-\(UUID().uuidString.prefix(6))"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return (path, false)
}

enum GeneratedData {
    static let cifar10Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    /// CIFAR-10 in both official formats: 20 training and 10 test images per class.
    static func cifar10(root: String) throws {
        for (split, perClass, seed) in [(CIFAR.Split.train, 20, UInt64(1)), (.test, 10, 2)] {
            let s = try SyntheticImages.dataset(classCount: 10, perClass: perClass, seed: seed, split: split.rawValue)
            let data = try ImageDataset(name: "c10", height: 32, width: 32, channels: 3, pixels: s.pixels, labels: s.labels, classNames: cifar10Names)
            try DatasetWriters.writeCIFARBinary(data, variant: .cifar10, split: split, root: root)
            try DatasetWriters.writeCIFARPickle(data, variant: .cifar10, split: split, root: root)
        }
    }

    /// A researcher's folder of 10 classes: PNG training images (12 per class), JPEG test
    /// images (6 per class) in val/, two sizes, and one grey JPEG.
    static func imageFolder(root: String) throws {
        let words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"]
        let names: [String] = words.map { (w: String) -> String in "class-" + w }
        let train = try SyntheticImages.dataset(classCount: 10, perClass: 12, height: 48, width: 64, seed: 3)
        let test = try SyntheticImages.dataset(classCount: 10, perClass: 6, height: 72, width: 72, seed: 4, split: "val")
        try DatasetWriters.writeClassFolders(try ImageDataset(name: "t", height: 48, width: 64, channels: 3, pixels: train.pixels, labels: train.labels, classNames: names),
                                             split: "train", root: root, format: .png)
        try DatasetWriters.writeClassFolders(try ImageDataset(name: "v", height: 72, width: 72, channels: 3, pixels: test.pixels, labels: test.labels, classNames: names),
                                             split: "val", root: root, format: .jpeg)
        let grey = try SyntheticImages.dataset(classCount: 1, perClass: 1, height: 48, width: 64, channels: 1, seed: 5)
        try FileAccessForTests.write(try JPEG.encode(pixels: grey.pixels, height: 48, width: 64, channels: 1), to: root + "/train/\(names[0])/zz-grey.jpg")
    }

    /// Tiny-ImageNet's official layout, 200 classes, 2 training and 1 validation image each.
    static func tinyImageNet(root: String) throws {
        let wnids = (0..<200).map { String(format: "n%08d", 1_000_000 + ($0 * 7919) % 9_000_000) }
        try DatasetWriters.writeTinyImageNet(train: try SyntheticImages.dataset(classCount: 200, perClass: 2, height: 64, width: 64, seed: 6),
                                             val: try SyntheticImages.dataset(classCount: 200, perClass: 1, height: 64, width: 64, seed: 7, split: "val"),
                                             wnids: wnids, root: root)
    }
}

enum FileAccessForTests {
    static func write(_ bytes: [UInt8], to path: String) throws {
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

@Suite struct DatasetKindProtocolTests {
    @Test(arguments: ["cifar10-b2-4", "cifar10-b5-5", "tiny-imagenet-b100-10", "image-folder-example"])
    func shippedProtocolShapes(name: String) throws {
        let p = try ProtocolLibrary(directory: protocolsFolder).load(name)
        switch name {
        case "cifar10-b2-4": #expect(p.totalClasses == 10 && p.baseClasses == 2 && p.classesPerPhase == 2 && p.incrementalPhaseCount == 4 && p.memory == .fixedTotal(2000))
        case "cifar10-b5-5": #expect(p.totalClasses == 10 && p.baseClasses == 5 && p.classesPerPhase == 1 && p.incrementalPhaseCount == 5)
        case "tiny-imagenet-b100-10": #expect(p.totalClasses == 200 && p.baseClasses == 100 && p.classesPerPhase == 10 && p.backbone == .resnet18)
        default:
            #expect(p.dataset.kind == .imageFolder && p.dataset.root == "/path/to/your/images" && p.dataset.imageSize == 64)
            #expect(p.classOrder.labels == Array(0..<10))  // sorted
        }
    }

    @Test func datasetFieldsOfTheNewKinds() throws {
        let base = try String(contentsOfFile: protocolsFolder + "/image-folder-example.yaml", encoding: .utf8)
        let p = try CILProtocol.parse(base, file: "x.yaml", overrides: ["dataset.root=/data/a", "dataset.cache=per-batch"])
        let q = try CILProtocol.parse(base, file: "x.yaml", overrides: ["dataset.root=/data/b"])
        // Where the data lies and how it is cached do not change what is run.
        #expect(p.dataset.cache == .perBatch && p.fingerprint == q.fingerprint)
        #expect(try CILProtocol.parse(base, file: "x.yaml", overrides: ["dataset.image_size=32"]).fingerprint != q.fingerprint)
        #expect(try CILProtocol.parse(base, file: "x.yaml", overrides: ["classes.order=numpy-seed-1993"]).classOrder.labels
                == ClassOrder.numpyShuffle(seed: 1993, classCount: 10).labels)
        #expect(try CILProtocol.parse(base, file: "x.yaml", overrides: ["classes.order=[9, 8, 7, 6, 5, 4, 3, 2, 1, 0]"]).classOrder.labels == Array((0..<10).reversed()))
        // Fields that do not belong to a kind are errors naming the field.
        let cifar = try String(contentsOfFile: protocolsFolder + "/cifar10-b5-5.yaml", encoding: .utf8)
        for (override, message) in [("dataset.cache=memory", "only folder datasets"), ("dataset.image_size=64", "image_size"),
                                    ("dataset.train_images_per_class=5001", "5000"), ("classes.total=12", "10 classes")] {
            #expect { try CILProtocol.parse(cifar, file: "c.yaml", overrides: [override]) } throws: { "\($0)".contains(message) }
        }
        #expect { try CILProtocol.parse(base, file: "x.yaml", overrides: ["dataset.cache=sometimes"]) } throws: { "\($0)".contains("per-batch") }
    }

    @Test func tinyImageNetLoadsForAProtocol() throws {
        let (root, keep) = try dataFolder("tiny-imagenet")
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        try GeneratedData.tinyImageNet(root: root)
        let p = try ProtocolLibrary(directory: protocolsFolder).load("tiny-imagenet-b100-10", overrides: ["memory.per_class=1"])
        let loaded = try #require(try DatasetLoading.load(p.dataset, totalClasses: 200, dataRoot: root, measureStatistics: true, cacheFolder: root + "/cache", threads: 2))
        #expect(loaded.train.count == 400 && loaded.test.count == 200 && loaded.imageSide == 64)
        #expect(loaded.record["dataset_cache"] == "memory" && loaded.record["dataset_image_size"] == "64x64")
        #expect(loaded.measuredNormalization?.mean.count == 3)
        // Per-batch decoding: the same digest and statistics (from the cache, and computed).
        var spec = p.dataset
        spec.cache = .perBatch
        let perBatch = try #require(try DatasetLoading.load(spec, totalClasses: 200, dataRoot: root, measureStatistics: true, cacheFolder: nil, threads: 2))
        #expect(perBatch.digest == loaded.digest && perBatch.measuredNormalization == loaded.measuredNormalization)
        #expect(perBatch.record["dataset_cache"] == "per-batch" && perBatch.train is ImageFolderDataset)
        #expect { try DatasetLoading.load(p.dataset, totalClasses: 100, dataRoot: root, measureStatistics: false, cacheFolder: nil, threads: 1) }
            throws: { "\($0)".contains("200 classes") }
    }
}

/// The new kinds end to end through the command line: generated data in the official
/// formats, smoke-sized runs to a bundle, `data check`, and one error line with a
/// non-zero exit for every bad layout.
@Suite(.serialized, .enabled(if: tool != nil, "cilbench executable or protocols/ not found next to the test bundle; build it first"))
struct DatasetKindsCLITests {
    static let quick = ["--set", "training.epochs=2", "--set", "training.batch_size=32", "--set", "training.test_batch_size=50", "--no-phase-zero-cache"]

    /// The bundle a run wrote: the last line `cilbench run` prints (with `--set` the folder
    /// carries a settings tag, so the path is not rebuilt here).
    static func bundlePath(_ output: String) -> String {
        output.split(separator: "\n").last.map(String.init) ?? ""
    }

    func cilbench(_ arguments: [String]) throws -> (status: Int32, output: String, error: String) {
        try run(tool!.executable.path, arguments)
    }

    @Test func cifar10RunsToABundleFromBothFormats() throws {
        let (root, keep) = try dataFolder("cifar10")
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        try GeneratedData.cifar10(root: root)
        let out = root + "/runs"
        let b55 = try cilbench(["run", "cifar10-b5-5", "--protocols", tool!.protocols, "--method", "lucir", "--data-root", root, "--out", out,
                                "--set", "memory.per_class=5"] + Self.quick)
        #expect(b55.status == 0, "\(b55.error)")
        let bundle = Self.bundlePath(b55.output)
        let result = try ResultBundle.read(path: bundle)
        #expect(result.phases.count == 6 && result.environment["dataset_format"] == "cifar-10-binary")
        // The python copy alone (binary folder moved away): the same images, the same digest.
        try FileManager.default.moveItem(atPath: root + "/cifar-10-batches-bin", toPath: root + "/aside-bin")
        defer { try? FileManager.default.moveItem(atPath: root + "/aside-bin", toPath: root + "/cifar-10-batches-bin") }
        let b24 = try cilbench(["run", "cifar10-b2-4", "--protocols", tool!.protocols, "--method", "finetune", "--data-root", root, "--out", out,
                                "--set", "memory.total=20"] + Self.quick)
        #expect(b24.status == 0, "\(b24.error)")
        let python = try ResultBundle.read(path: Self.bundlePath(b24.output))
        #expect(python.datasetDigest == result.datasetDigest && python.environment["dataset_format"] == "cifar-10-python")
        #expect(python.phases.count == 5)
    }

    @Test func imageFolderExampleRunsToABundleAndCachesItsDigest() throws {
        let (root, keep) = try dataFolder("image-folder")
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        try GeneratedData.imageFolder(root: root)
        let out = root + "/runs"
        let settings = ["--protocols", tool!.protocols, "--method", "lucir", "--data-root", root, "--set", "memory.per_class=3",
                        "--set", "dataset.image_size=32"] + Self.quick
        let first = try cilbench(["run", "image-folder-example", "--out", out] + settings)
        #expect(first.status == 0, "\(first.error)")
        let bundle = try ResultBundle.read(path: Self.bundlePath(first.output))
        #expect(bundle.phases.count == 6)
        #expect(bundle.environment["dataset_cache"] == "memory" && bundle.environment["dataset_image_size"] == "32x32")
        let filesDigest = try #require(bundle.environment["dataset_files_digest"])
        let cacheFolder = out + "/.dataset-cache"
        let entries = try FileManager.default.contentsOfDirectory(atPath: cacheFolder)
        #expect(entries.contains { $0.hasPrefix("files-") })
        // Decoded per batch instead of held in memory: bit-identical results.
        let second = try cilbench(["run", "image-folder-example", "--out", root + "/runs-per-batch", "--set", "dataset.cache=per-batch"] + settings)
        #expect(second.status == 0, "\(second.error)")
        let perBatch = try ResultBundle.read(path: Self.bundlePath(second.output))
        #expect(perBatch.environment["dataset_cache"] == "per-batch")
        #expect(perBatch.datasetDigest == bundle.datasetDigest && perBatch.environment["dataset_files_digest"] == filesDigest)
        #expect(perBatch.phases.map(\.parameterDigest) == bundle.phases.map(\.parameterDigest))
        #expect(perBatch.phases.map(\.predictionDigest) == bundle.phases.map(\.predictionDigest))
        // A cached digest is used as is: plant a marker value and see it come back.
        let key = try #require(entries.first { $0.hasPrefix("files-") })
        try "0000cached\n".write(toFile: cacheFolder + "/" + key, atomically: true, encoding: .utf8)
        let third = try cilbench(["run", "image-folder-example", "--out", out, "--method", "finetune", "--protocols", tool!.protocols, "--data-root", root,
                                  "--set", "memory.per_class=3", "--set", "dataset.image_size=32", "--set", "training.epochs=1", "--no-phase-zero-cache",
                                  "--set", "training.batch_size=32"])
        #expect(third.status == 0, "\(third.error)")
        #expect(try ResultBundle.read(path: Self.bundlePath(third.output)).environment["dataset_files_digest"] == "0000cached")
        // Statistics measured from the training split are recorded in the manifest.
        let measured = try cilbench(["run", "image-folder-example", "--out", root + "/runs-measured", "--set", "preprocessing=resize-crop-measured",
                                     "--method", "finetune", "--protocols", tool!.protocols, "--data-root", root, "--set", "memory.per_class=3",
                                     "--set", "dataset.image_size=32", "--set", "training.epochs=1", "--no-phase-zero-cache"])
        #expect(measured.status == 0, "\(measured.error)")
        let stats = try ResultBundle.read(path: Self.bundlePath(measured.output)).environment["dataset_normalization"]
        #expect(stats?.hasPrefix("mean=") == true)
    }

    @Test func dataCheckForEveryNewKind() throws {
        let (root, keep) = try dataFolder("check")
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        try GeneratedData.cifar10(root: root + "/cifar10")
        try GeneratedData.imageFolder(root: root + "/folder")
        try GeneratedData.tinyImageNet(root: root + "/tiny")
        for kind in ["cifar10", "cifar-10", "cifar-10-python"] {
            let r = try cilbench(["data", "check", kind, "--data-root", root + "/cifar10"])
            // 20/10 per class instead of CIFAR-10's 5,000/1,000: reported, exit 1.
            #expect(r.status == 1 && r.output.contains("0 airplane") && r.output.contains("SHA-256") && r.error.contains("5000"))
        }
        let folder = try cilbench(["data", "check", "image-folder", "--data-root", root + "/folder"])
        #expect(folder.status == 0, "\(folder.error)")
        #expect(folder.output.contains("train: 121 images in 10 classes") && folder.output.contains("val: 60 images in 10 classes, 6 per class"))
        #expect(folder.output.contains("0 class-alpha: train 13, val 6") && folder.output.contains("48x64: 121, 72x72: 60"))
        #expect(folder.output.contains("folder digest") && folder.output.contains("note: images come in 2 sizes") && folder.output.contains("verdict: OK"))
        let tiny = try cilbench(["data", "check", "tiny-imagenet", "--data-root", root + "/tiny"])
        #expect(tiny.status == 1 && tiny.output.contains("train: 400 images in 200 classes, 2 per class") && tiny.output.contains("wnids.txt"))
        #expect(tiny.error.contains("official 500 images per class"))
    }

    /// Each bad layout: `data check` and `run` print one error line naming the file and
    /// exit non-zero, and the run writes no bundle.
    @Test func badLayoutsGiveOneErrorLine() throws {
        let (root, keep) = try dataFolder("bad-layouts")
        defer { if !keep { try? FileManager.default.removeItem(atPath: root) } }
        func fresh(_ name: String) throws -> String {
            let dir = root + "/" + name
            try GeneratedData.imageFolder(root: dir)
            return dir
        }
        let first = "class-alpha"
        var cases: [(name: String, dir: String, names: String, runSettings: [String])] = []
        var dir = try fresh("empty-class")
        try FileManager.default.createDirectory(atPath: dir + "/train/class-kilo", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: dir + "/val/class-kilo", withIntermediateDirectories: true)
        cases.append(("empty class folder", dir, dir + "/train/class-kilo", []))
        dir = try fresh("train-not-test")
        try FileManager.default.removeItem(atPath: dir + "/val/\(first)")
        cases.append(("class in train but not in test", dir, dir + "/val/\(first)", []))
        dir = try fresh("corrupt")
        try Data("garbage".utf8).write(to: URL(fileURLWithPath: dir + "/train/\(first)/\(first)_00000.png"))
        cases.append(("corrupt file", dir, dir + "/train/\(first)/\(first)_00000.png", []))
        dir = try fresh("cmyk")
        try FileAccessForTests.write(try JPEG.encode(pixels: [UInt8](repeating: 50, count: 48 * 64 * 4), height: 48, width: 64, channels: 4),
                                     to: dir + "/val/\(first)/cmyk.jpg")
        cases.append(("CMYK JPEG", dir, dir + "/val/\(first)/cmyk.jpg", []))
        dir = try fresh("mixed")
        cases.append(("mixed sizes without image_size", dir, dir + "/val/\(first)", ["--set", "dataset.image_size="]))
        for c in cases {
            let check = try cilbench(["data", "check", "image-folder", "--data-root", c.dir])
            let runResult = try cilbench(["run", "image-folder-example", "--protocols", tool!.protocols, "--method", "finetune", "--data-root", c.dir,
                                          "--out", c.dir + "/runs", "--set", "memory.per_class=3", "--set", "dataset.image_size=32"] + c.runSettings + Self.quick)
            let results = c.name.hasPrefix("mixed") ? [runResult] : [check, runResult]  // mixed sizes are a note for data check
            for r in results {
                #expect(r.status == 2, "\(c.name): exit \(r.status)")
                let lines = r.error.split(separator: "\n").filter { $0.hasPrefix("error:") }
                #expect(lines.count == 1 && lines[0].contains(c.names), "\(c.name): \(r.error)")
            }
            // No bundle anywhere under the output folder (with --set it would sit in a tagged folder).
            let written = FileManager.default.enumerator(atPath: c.dir + "/runs")?.compactMap { $0 as? String }.filter { $0.hasSuffix(".tar.zst") } ?? []
            #expect(written.isEmpty, "\(c.name): \(written)")
        }
        let wrongCount = try cilbench(["run", "image-folder-example", "--protocols", tool!.protocols, "--method", "finetune", "--data-root", cases[2].dir,
                                       "--set", "classes.total=12", "--set", "classes.base=6", "--out", root + "/runs"] + Self.quick)
        #expect(wrongCount.status == 2 && wrongCount.error.contains("10 classes") && wrongCount.error.contains("classes.total is 12"))
    }
}
