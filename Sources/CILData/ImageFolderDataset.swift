/// The ILSVRC-2012 folder layout: `train/<wnid>/*.JPEG`, and `val/` either in wnid folders
/// or flat with a label file. Labels are positions in `classNames` (wnids, sorted as
/// torchvision's ImageFolder sorts them). Images stay on disk and are decoded on demand,
/// in parallel, by the loader.
public struct ImageFolderDataset: ImageSource, Sendable {
    public let name: String
    public let paths: [String]
    public let labels: [Int]
    public let classNames: [String]
    /// With a size, images are resized on load (shorter side, then the central square).
    public var imageSize: Int? = nil

    public var count: Int { paths.count }

    static func isImage(_ name: String) -> Bool {
        let lower = name.lowercased()
        return lower.hasSuffix(".jpeg") || lower.hasSuffix(".jpg")
    }

    /// Scans `root/<split>/<wnid>/`. `classes`, when given, restricts and orders the
    /// classes (e.g. a 100-class subset, alphabetical); otherwise every folder is a class.
    public static func scanClassFolders(root: String, split: String, classes: [String]? = nil) throws -> ImageFolderDataset {
        let splitDir = FileAccess.join(root, split)
        guard FileAccess.isDirectory(root) else { throw DataError.missingFile(path: root, expected: "an ImageNet folder with train/ and val/") }
        guard FileAccess.isDirectory(splitDir) else {
            throw DataError.missingSplit(root: root, split: split, expected: "\(split)/<wnid>/*.JPEG")
        }
        let folders = try FileAccess.list(splitDir, expected: "class folders").filter { FileAccess.isDirectory(FileAccess.join(splitDir, $0)) }
        let classNames = (classes ?? folders).sorted()
        let present = Set(folders)
        var paths: [String] = []
        var labels: [Int] = []
        for (label, wnid) in classNames.enumerated() {
            let dir = FileAccess.join(splitDir, wnid)
            guard present.contains(wnid) else { throw DataError.missingFile(path: dir, expected: "class folder \(wnid)") }
            let files = try FileAccess.list(dir, expected: "images of \(wnid)").filter(isImage)
            guard !files.isEmpty else { throw DataError.emptyClassFolder(path: dir) }
            paths += files.map { FileAccess.join(dir, $0) }
            labels += Array(repeating: label, count: files.count)
        }
        guard !classNames.isEmpty else { throw DataError.missingSplit(root: root, split: split, expected: "\(split)/<wnid>/*.JPEG, found no class folders") }
        return ImageFolderDataset(name: "imagenet-\(split)", paths: paths, labels: labels, classNames: classNames)
    }

    /// A flat `val/` folder labelled by a text file of `<file name> <wnid or label index>`
    /// lines; only classes in `classNames` are kept.
    /// Integer tags index `indexNames` (the full sorted wnid list), so a 1000-class label
    /// file also serves a subset.
    public static func scanFlat(root: String, split: String = "val", labelFile: String, classNames: [String], indexNames: [String]? = nil) throws -> ImageFolderDataset {
        let indexNames = indexNames ?? classNames
        let splitDir = FileAccess.join(root, split)
        guard FileAccess.isDirectory(splitDir) else { throw DataError.missingSplit(root: root, split: split, expected: "\(split)/*.JPEG") }
        let text = String(decoding: try FileAccess.read(labelFile, expected: "a validation label file"), as: UTF8.self)
        let index = Dictionary(uniqueKeysWithValues: classNames.enumerated().map { ($1, $0) })
        let present = Set(try FileAccess.list(splitDir, expected: "validation images"))
        var paths: [String] = []
        var labels: [Int] = []
        for (lineNo, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "," })
            guard fields.count >= 2 else { throw DataError.invalidArgument("\(labelFile): line \(lineNo + 1) is not '<file> <wnid>'") }
            let file = String(fields[0].split(separator: "/").last ?? fields[0])
            let tag = String(fields[1])
            let wnid: String
            if let i = Int(tag) {
                guard i >= 0 && i < indexNames.count else { throw DataError.labelOutOfRange(path: labelFile, record: lineNo, label: i, classCount: indexNames.count) }
                wnid = indexNames[i]
            } else {
                wnid = tag
            }
            guard let label = index[wnid] else { continue }
            guard present.contains(file) else { throw DataError.missingFile(path: FileAccess.join(splitDir, file), expected: "the image named in \(labelFile)") }
            paths.append(FileAccess.join(splitDir, file))
            labels.append(label)
        }
        return ImageFolderDataset(name: "imagenet-\(split)", paths: paths, labels: labels, classNames: classNames)
    }

    public func withImage<R>(at index: Int, _ body: (ImageView) throws -> R) throws -> R {
        let image = try ImageFile.load(paths[index], size: imageSize)
        return try image.pixels.withUnsafeBufferPointer {
            try body(ImageView(pixels: $0, height: image.height, width: image.width, channels: 3))
        }
    }

    public func countsPerClass() -> [Int] {
        var counts = [Int](repeating: 0, count: classNames.count)
        for label in labels { counts[label] += 1 }
        return counts
    }
}

/// ImageNet as the benchmarks use it: full ILSVRC-2012 or one of the two 100-class
/// subsets, train or val, with the matching class order.
public enum ImageNet {
    public enum Variant: Sendable, Hashable {
        case full
        case subset(ImageNetSubset)
    }

    /// Opens a split. `val` may be in wnid folders, or flat with `valLabelFile`
    /// (default `<root>/val_labels.txt`). Returns the dataset (labels alphabetical among
    /// its classes) and the class order to learn it in.
    public static func open(root: String, split: String, variant: Variant, valLabelFile: String? = nil) throws -> (dataset: ImageFolderDataset, order: ClassOrder) {
        let trainDir = FileAccess.join(root, "train")
        guard FileAccess.isDirectory(root) else { throw DataError.missingFile(path: root, expected: "an ImageNet folder with train/ and val/") }
        guard FileAccess.isDirectory(trainDir) else { throw DataError.missingSplit(root: root, split: "train", expected: "train/<wnid>/ (it defines the class list)") }
        let allWnids = try FileAccess.list(trainDir, expected: "class folders").filter { FileAccess.isDirectory(FileAccess.join(trainDir, $0)) }
        let classes: [String]
        let order: ClassOrder
        switch variant {
        case .full:
            classes = allWnids.sorted()
            order = classes.count == 1000 ? ClassOrder.imageNet1k : ClassOrder.numpyShuffle(seed: 1993, classCount: classes.count)
        case .subset(let subset):
            classes = try subset.learningOrder(allWnids: allWnids).sorted()
            order = try ClassOrder(name: subset.rawValue, labels: MersenneTwister.numpyPermutation(seed: 1993, count: 100))
        }
        let splitDir = FileAccess.join(root, split)
        guard FileAccess.isDirectory(splitDir) else { throw DataError.missingSplit(root: root, split: split, expected: "\(split)/") }
        let entries = try FileAccess.list(splitDir, expected: "\(split) images")
        let foldered = entries.contains { FileAccess.isDirectory(FileAccess.join(splitDir, $0)) }
        if foldered || split == "train" {
            return (try ImageFolderDataset.scanClassFolders(root: root, split: split, classes: classes), order)
        }
        let labelFile = valLabelFile ?? FileAccess.join(root, "val_labels.txt")
        return (try ImageFolderDataset.scanFlat(root: root, split: split, labelFile: labelFile, classNames: classes, indexNames: allWnids.sorted()), order)
    }
}
