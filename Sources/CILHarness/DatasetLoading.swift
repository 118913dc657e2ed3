import CILData
import Foundation

/// The dataset kinds a researcher brings beyond the paper's (CIFAR-10, their own image
/// folders, Tiny-ImageNet), loaded for a run: both splits cut to the protocol's images per
/// class, folder images in memory or decoded per batch, the digest that identifies the
/// exact images used, and the training split's statistics when the pipeline measures them.
public struct LoadedDataset {
    public let train: any ImageSource
    public let test: any ImageSource
    /// The stored images' (shorter) side, which the preprocessing crops to.
    public let imageSide: Int
    public let digest: String
    /// The training split's mean and std, for `resize-crop-measured`.
    public let measuredNormalization: Normalization?
    /// Facts recorded in the run's manifest (its environment block).
    public let record: [String: String]
}

public enum DatasetLoading {
    /// Loads `spec` when it is one of the kinds handled here; nil for the paper's kinds
    /// (RunPlan.loadData reads those). `cacheFolder` keeps the folder digest and measured
    /// statistics between runs.
    public static func load(_ spec: DatasetSpec, totalClasses: Int, dataRoot: String?, measureStatistics: Bool,
                            cacheFolder: String?, threads: Int) throws -> LoadedDataset? {
        switch spec.kind {
        case .cifar100, .imageNet, .imageNetSubset, .fashionMNIST, .synthetic:
            return nil
        case .cifar10:
            return try loadCIFAR10(spec, root: try root(spec, dataRoot, "a folder holding cifar-10-batches-bin/ or cifar-10-batches-py/"),
                                   measureStatistics: measureStatistics)
        case .imageFolder, .tinyImageNet:
            let root = try root(spec, dataRoot, spec.kind == .tinyImageNet
                ? "the folder holding tiny-imagenet-200/" : "an image folder with train/<class>/ and test/<class>/")
            let splits = spec.kind == .tinyImageNet
                ? try FolderDatasets.openTinyImageNet(root: root, imageSize: spec.imageSize)
                : try FolderDatasets.openImageFolder(root: root, imageSize: spec.imageSize)
            return try loadFolder(spec, splits, totalClasses: totalClasses, measureStatistics: measureStatistics,
                                  cache: cacheFolder.map(DatasetCache.init(folder:)), threads: threads)
        }
    }

    /// `--data-root`, else the protocol's `dataset.root`.
    static func root(_ spec: DatasetSpec, _ dataRoot: String?, _ expected: String) throws -> String {
        guard let root = dataRoot ?? spec.root else {
            throw HarnessError.mismatch("\(spec.kind.rawValue) needs --data-root or dataset.root (\(expected))")
        }
        return root
    }

    static func loadCIFAR10(_ spec: DatasetSpec, root: String, measureStatistics: Bool) throws -> LoadedDataset {
        // The format is chosen by what is on disk, so a damaged binary copy reports its own
        // error instead of falling through to a missing python copy.
        let exists = { (name: String) in FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(name)) }
        let python = !exists("cifar-10-batches-bin") && !exists("data_batch_1.bin") && (exists("cifar-10-batches-py") || exists("data_batch_1"))
        func read(_ split: CIFAR.Split, _ perClass: Int?) throws -> ImageDataset {
            let data = python ? try CIFAR.readPickle(root: root, variant: .cifar10, split: split)
                : try CIFAR.readBinary(root: root, variant: .cifar10, split: split)
            return try perClass.map { try data.firstImages(perClass: $0) } ?? data
        }
        let train = try read(.train, spec.trainImagesPerClass), test = try read(.test, spec.testImagesPerClass)
        let measured = measureStatistics ? Normalization.measured(on: train) : nil
        var record = ["dataset_format": python ? "cifar-10-python" : "cifar-10-binary"]
        if let measured { record["dataset_normalization"] = measured.recordText }
        return LoadedDataset(train: train, test: test, imageSide: 32, digest: RunPlan.digest(train, test),
                             measuredNormalization: measured, record: record)
    }

    static func loadFolder(_ spec: DatasetSpec, _ splits: FolderDatasets.Splits, totalClasses: Int, measureStatistics: Bool,
                           cache: DatasetCache?, threads: Int) throws -> LoadedDataset {
        let classCount = splits.train.classNames.count
        guard classCount == totalClasses else {
            throw HarnessError.mismatch("\(splits.root): \(classCount) classes (\(splits.train.classNames.prefix(5).joined(separator: ", "))\(classCount > 5 ? ", ..." : "")), but the protocol's classes.total is \(totalClasses)")
        }
        let train = FolderDatasets.firstImages(splits.train, perClass: spec.trainImagesPerClass)
        let test = FolderDatasets.firstImages(splits.test, perClass: spec.testImagesPerClass)
        // Without image_size every image must have one size; read every header now rather
        // than fail in the middle of a run.
        let size = try FolderDatasets.uniformSize(train, threads: threads)
        let testSize = try FolderDatasets.uniformSize(test, threads: threads)
        guard testSize == size else {
            throw DataError.mixedImageSizes(path: test.paths[0], height: testSize.height, width: testSize.width,
                                            firstPath: train.paths[0], firstHeight: size.height, firstWidth: size.width)
        }
        let decodedBytes = (train.count + test.count) * size.height * size.width * 3
        let inMemory = spec.cache == .memory || (spec.cache == .auto && decodedBytes <= DatasetSpec.memoryCacheLimit)
        let trainSource: any ImageSource = inMemory ? try FolderDatasets.decodeAll(train, threads: threads) : train
        let testSource: any ImageSource = inMemory ? try FolderDatasets.decodeAll(test, threads: threads) : test

        let files = try FolderDigest.digest(files: train.paths + test.paths + splits.labelFiles, root: splits.root, threads: threads, cache: cache)
        var text = "\(spec.kind.rawValue)|image_size=\(spec.imageSize.map(String.init) ?? "native")|files=\(files.digest)"
        for source in [train, test] { text += "|\(source.count):" + source.labels.map(String.init).joined(separator: ",") }
        let digest = SHA256.hex(of: Array(text.utf8))

        var measured: Normalization?
        if measureStatistics {
            let key = "stats-\(digest)"
            if let hit = cache?.value(for: key) { measured = try Normalization(recordText: hit) } else {
                let stats = try Normalization.measured(onSource: trainSource)
                try cache?.store(stats.recordText, for: key)
                measured = stats
            }
        }
        var record = ["dataset_files_digest": files.digest, "dataset_image_size": "\(size.height)x\(size.width)",
                      "dataset_cache": inMemory ? "memory" : "per-batch"]
        if let measured { record["dataset_normalization"] = measured.recordText }
        return LoadedDataset(train: trainSource, test: testSource, imageSide: min(size.height, size.width), digest: digest,
                             measuredNormalization: measured, record: record)
    }
}
