/// What `cilbench data check` reports about a user's copy of a dataset: images per class
/// and split, a SHA-256 of every file read, and a verdict against the official counts.
/// Official archive checksums are compared only where the protocol pins them (it pins
/// none so far), so checksums are printed for the user to compare.
public struct DatasetReport: Sendable {
    public struct Split: Sendable {
        public let name: String
        public let perClass: [Int]
        public let expectedPerClass: Int?
        public var imageCount: Int { perClass.reduce(0, +) }
    }

    public struct File: Sendable {
        public let path: String
        public let bytes: Int
        public let sha256: String
        /// The official checksum when one is pinned; nil when unknown.
        public let official: String?
        public var matches: Bool? { official.map { $0 == sha256 } }
    }

    public let dataset: String
    public let root: String
    public let classNames: [String]
    public let splits: [Split]
    public let files: [File]
    /// How many images have each size (`HxW`), most common first (folder datasets).
    public var imageSizes: [(size: String, count: Int)] = []
    /// The folder digest over every image's path, size and content (folder datasets).
    public var digest: String?
    /// Facts worth knowing that do not make the copy differ from the official dataset.
    public var notes: [String] = []
    /// An expected class count that the copy does not have.
    public var expectedClassCount: Int?

    /// Problems that make this copy differ from the official dataset.
    public var problems: [String] {
        var out: [String] = []
        if let expected = expectedClassCount, expected != classNames.count {
            out.append("\(classNames.count) classes where the official dataset has \(expected)")
        }
        for split in splits {
            if let expected = split.expectedPerClass {
                let off = split.perClass.enumerated().filter { $0.element != expected }
                if let first = off.first {
                    out.append("\(split.name): \(off.count) classes differ from the official \(expected) images per class (e.g. \(classNames[first.offset]): \(first.element))")
                }
            }
        }
        for file in files where file.matches == false {
            out.append(DataError.checksumMismatch(path: file.path, expected: file.official ?? "", actual: file.sha256).description)
        }
        return out
    }
}

public enum DatasetCheck {
    public enum Kind: String, Sendable, CaseIterable {
        case fashionMNIST = "fashion-mnist"
        case cifar100 = "cifar-100"
        case cifar100Python = "cifar-100-python"
        case cifar10 = "cifar-10"
        case cifar10Python = "cifar-10-python"
        case imageNet = "imagenet"
        case imageNetSubsetLUCIR = "imagenet-subset-lucir"
        case imageNet100PODNet = "imagenet100-podnet"
        case imageFolder = "image-folder"
        case tinyImageNet = "tiny-imagenet"

        public var defaultRoot: String? { self == .fashionMNIST ? FashionMNIST.debianRoot : nil }
    }

    /// Official checksums (file name → SHA-256), pinned only from a public source: none
    /// yet, so nothing is invented here; adding one makes `check` compare against it.
    public static let pinnedChecksums: [String: String] = [:]

    public static func run(_ kind: Kind, root: String, officialChecksums: [String: String] = pinnedChecksums, threads: Int = 2) throws -> DatasetReport {
        let checksum = { (path: String) throws -> DatasetReport.File in try Self.checksum(path, official: officialChecksums) }
        switch kind {
        case .fashionMNIST:
            var files: [DatasetReport.File] = []
            var splits: [DatasetReport.Split] = []
            for split in FashionMNIST.Split.allCases {
                let data = try FashionMNIST.read(root: root, split: split)
                splits.append(.init(name: split.rawValue, perClass: data.countsPerClass(), expectedPerClass: split.officialCount / 10))
                let (images, labels) = try FashionMNIST.files(root: root, split: split)
                files += try [images, labels].map(checksum)
            }
            return DatasetReport(dataset: kind.rawValue, root: root, classNames: FashionMNIST.classNames, splits: splits, files: files)
        case .cifar100, .cifar10, .cifar100Python, .cifar10Python:
            let variant: CIFAR.Variant = (kind == .cifar10 || kind == .cifar10Python) ? .cifar10 : .cifar100
            let pickle = kind == .cifar100Python || kind == .cifar10Python
            var files: [DatasetReport.File] = []
            var splits: [DatasetReport.Split] = []
            var names: [String] = []
            for split in CIFAR.Split.allCases {
                let data = pickle
                    ? try CIFAR.readPickle(root: root, variant: variant, split: split)
                    : try CIFAR.readBinary(root: root, variant: variant, split: split)
                names = data.classNames
                splits.append(.init(name: split.rawValue, perClass: data.countsPerClass(), expectedPerClass: variant.officialCount(split) / variant.classCount))
                let folder: String
                if pickle {
                    let inner = FileAccess.join(root, CIFAR.pickleFolder(variant))
                    folder = FileAccess.isDirectory(inner) ? inner : root
                } else {
                    folder = try CIFAR.binaryFolder(root: root, variant: variant)
                }
                let list = pickle ? CIFAR.pickleFiles(variant, split) : CIFAR.binaryFiles(variant, split)
                files += try list.map { try checksum(FileAccess.join(folder, $0)) }
            }
            return DatasetReport(dataset: kind.rawValue, root: root, classNames: names, splits: splits, files: files)
        case .imageNet, .imageNetSubsetLUCIR, .imageNet100PODNet:
            let variant: ImageNet.Variant = kind == .imageNet ? .full : .subset(kind == .imageNetSubsetLUCIR ? .lucirSeed1993 : .podnetFirst100)
            var splits: [DatasetReport.Split] = []
            var names: [String] = []
            for split in ["train", "val"] {
                let (data, _) = try ImageNet.open(root: root, split: split, variant: variant)
                names = data.classNames
                // ILSVRC-2012 train classes hold 732-1300 images; only val is uniform (50).
                splits.append(.init(name: split, perClass: data.countsPerClass(), expectedPerClass: split == "val" ? 50 : nil))
            }
            return DatasetReport(dataset: kind.rawValue, root: root, classNames: names, splits: splits, files: [])
        case .imageFolder, .tinyImageNet:
            let folder = kind == .tinyImageNet ? try FolderDatasets.openTinyImageNet(root: root) : try FolderDatasets.openImageFolder(root: root)
            return try checkFolder(kind, folder, official: officialChecksums, threads: threads)
        }
    }

    /// Decodes every image of both splits (so a corrupt or CMYK file is found now, not in
    /// the middle of a run), counts sizes, and digests every file.
    static func checkFolder(_ kind: Kind, _ folder: FolderDatasets.Splits, official: [String: String], threads: Int) throws -> DatasetReport {
        let tiny = kind == .tinyImageNet
        var splits: [DatasetReport.Split] = []
        var sizes: [String: Int] = [:]
        for (name, data) in [("train", folder.train), (folder.testSplit, folder.test)] {
            let decoded = try FolderDatasets.parallelMap(count: data.count, threads: threads) { i in
                let image = try ImageFile.decodeFile(data.paths[i])
                return "\(image.height)x\(image.width)"
            }
            for size in decoded { sizes[size, default: 0] += 1 }
            splits.append(.init(name: name, perClass: data.countsPerClass(), expectedPerClass: tiny ? (name == "train" ? 500 : 50) : nil))
        }
        let files = try folder.labelFiles.map { try checksum($0, official: official) }
        let digest = try FolderDigest.digest(files: folder.train.paths + folder.test.paths, root: folder.root, threads: threads).digest
        var report = DatasetReport(dataset: kind.rawValue, root: folder.root, classNames: folder.train.classNames, splits: splits, files: files)
        report.imageSizes = sizes.map { (size: $0.key, count: $0.value) }.sorted { $0.count != $1.count ? $0.count > $1.count : $0.size < $1.size }
        report.digest = digest
        report.expectedClassCount = tiny ? 200 : nil
        if report.imageSizes.count > 1 {
            report.notes.append("images come in \(report.imageSizes.count) sizes: a protocol on this folder needs dataset.image_size (resize on load)")
        }
        return report
    }

    static func checksum(_ path: String, official officialChecksums: [String: String]) throws -> DatasetReport.File {
        let bytes = try FileAccess.read(path, expected: "a dataset file")
        let name = path.split(separator: "/").last.map(String.init) ?? path
        return .init(path: path, bytes: bytes.count, sha256: SHA256.hex(of: bytes), official: officialChecksums[name])
    }
}
