import Dispatch
import Foundation

/// Datasets that are folders of image files: a researcher's own (`image-folder`:
/// `<root>/train/<class>/<image>` and `<root>/test/<class>/<image>` or `val/`) and
/// Tiny-ImageNet in its official `tiny-imagenet-200` layout. Labels are positions in the
/// sorted class names (torchvision's ImageFolder convention), images are in sorted file
/// order within a class.
public enum FolderDatasets {
    /// A train and a test split over the same classes.
    public struct Splits: Sendable {
        public var train: ImageFolderDataset
        public var test: ImageFolderDataset
        /// The folder the splits were read from (after locating `tiny-imagenet-200/`).
        public var root: String
        /// `test` or `val`.
        public var testSplit: String
        /// Files besides the images that define the labels (Tiny-ImageNet's wnids.txt and
        /// val_annotations.txt), part of the dataset digest.
        public var labelFiles: [String] = []
    }

    // MARK: image-folder

    /// Reads `<root>/train/<class>/` and `<root>/test/<class>/` (or `val/`). With
    /// `imageSize`, images are resized on load.
    public static func openImageFolder(root: String, imageSize: Int? = nil) throws -> Splits {
        guard FileAccess.isDirectory(root) else {
            throw DataError.missingFile(path: root, expected: "an image folder with train/<class>/ and test/<class>/ (or val/)")
        }
        let trainDir = FileAccess.join(root, "train")
        guard FileAccess.isDirectory(trainDir) else {
            throw DataError.missingSplit(root: root, split: "train", expected: "train/<class>/<image>.jpg|png")
        }
        let testSplit: String
        if FileAccess.isDirectory(FileAccess.join(root, "test")) { testSplit = "test" }
        else if FileAccess.isDirectory(FileAccess.join(root, "val")) { testSplit = "val" }
        else { throw DataError.missingSplit(root: root, split: "test", expected: "test/<class>/ or val/<class>/ beside train/") }
        let testDir = FileAccess.join(root, testSplit)
        let trainClasses = try classFolders(trainDir)
        let testClasses = try classFolders(testDir)
        guard !trainClasses.isEmpty else { throw DataError.missingSplit(root: root, split: "train", expected: "train/<class>/ folders, found none") }
        let inTest = Set(testClasses), inTrain = Set(trainClasses)
        if let missing = trainClasses.first(where: { !inTest.contains($0) }) {
            throw DataError.classMissingInSplit(path: FileAccess.join(testDir, missing), className: missing, presentIn: "train/")
        }
        if let extra = testClasses.first(where: { !inTrain.contains($0) }) {
            throw DataError.classMissingInSplit(path: FileAccess.join(trainDir, extra), className: extra, presentIn: "\(testSplit)/")
        }
        var train = try scan(trainDir, classes: trainClasses, name: "image-folder-train")
        var test = try scan(testDir, classes: trainClasses, name: "image-folder-\(testSplit)")
        train.imageSize = imageSize
        test.imageSize = imageSize
        return Splits(train: train, test: test, root: root, testSplit: testSplit)
    }

    /// Sorted sub-folders (hidden ones skipped); an image lying directly in the split
    /// folder is an error, since its class would be unknown.
    static func classFolders(_ splitDir: String) throws -> [String] {
        var folders: [String] = []
        for entry in try FileAccess.list(splitDir, expected: "class folders") where !entry.hasPrefix(".") {
            let path = FileAccess.join(splitDir, entry)
            if FileAccess.isDirectory(path) { folders.append(entry) }
            else if ImageFile.isImage(entry) || ImageFile.isUnsupportedImage(entry) {
                throw DataError.unsupportedImage(path: path, reason: "images go into class folders, \(splitDir)/<class>/\(entry)")
            }
        }
        return folders
    }

    /// The images of each class folder, labelled by the class's position in `classes`.
    static func scan(_ splitDir: String, classes: [String], name: String) throws -> ImageFolderDataset {
        var paths: [String] = []
        var labels: [Int] = []
        for (label, className) in classes.enumerated() {
            let dir = FileAccess.join(splitDir, className)
            let files = try imageFiles(in: dir, expected: "images of class \(className)")
            guard !files.isEmpty else { throw DataError.emptyClassFolder(path: dir) }
            paths += files.map { FileAccess.join(dir, $0) }
            labels += Array(repeating: label, count: files.count)
        }
        return ImageFolderDataset(name: name, paths: paths, labels: labels, classNames: classes)
    }

    /// JPEG and PNG file names of a folder, sorted; a BMP, GIF, WebP or TIFF is an error
    /// (they would otherwise be skipped silently), other files are ignored.
    static func imageFiles(in dir: String, expected: String) throws -> [String] {
        var out: [String] = []
        for entry in try FileAccess.list(dir, expected: expected) where !entry.hasPrefix(".") {
            if ImageFile.isImage(entry) { out.append(entry) }
            else if ImageFile.isUnsupportedImage(entry) {
                throw DataError.unsupportedImage(path: FileAccess.join(dir, entry), reason: "only JPEG and PNG are read; convert it")
            }
        }
        return out
    }

    // MARK: tiny-imagenet

    public static let tinyImageNetFolder = "tiny-imagenet-200"

    /// Tiny-ImageNet as distributed (http://cs231n.stanford.edu/tiny-imagenet-200.zip):
    /// `wnids.txt` (200 wnids), `train/<wnid>/images/<wnid>_<i>.JPEG` (500 each, 64x64),
    /// `val/images/val_<i>.JPEG` labelled by `val/val_annotations.txt` (`file<TAB>wnid<TAB>box`,
    /// 50 per class). The unlabelled `test/` is not used. Labels follow the sorted wnids.
    public static func openTinyImageNet(root: String, imageSize: Int? = nil) throws -> Splits {
        let inner = FileAccess.join(root, tinyImageNetFolder)
        let folder = FileAccess.isDirectory(inner) ? inner : root
        guard FileAccess.isDirectory(folder) else {
            throw DataError.missingFile(path: root, expected: "a folder holding \(tinyImageNetFolder)/")
        }
        let wnidsFile = FileAccess.join(folder, "wnids.txt")
        let wnidText = String(decoding: try FileAccess.read(wnidsFile, expected: "Tiny-ImageNet's list of 200 wnids"), as: UTF8.self)
        let listed = wnidText.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        guard !listed.isEmpty, Set(listed).count == listed.count else {
            throw DataError.invalidArgument("\(wnidsFile): expected one distinct wnid per line")
        }
        let wnids = listed.sorted()
        let trainDir = FileAccess.join(folder, "train")
        guard FileAccess.isDirectory(trainDir) else { throw DataError.missingSplit(root: folder, split: "train", expected: "train/<wnid>/images/*.JPEG") }
        var paths: [String] = []
        var labels: [Int] = []
        for (label, wnid) in wnids.enumerated() {
            let dir = FileAccess.join(FileAccess.join(trainDir, wnid), "images")
            guard FileAccess.isDirectory(dir) else {
                throw DataError.missingFile(path: dir, expected: "the training images of \(wnid), listed in wnids.txt")
            }
            let files = try imageFiles(in: dir, expected: "images of \(wnid)")
            guard !files.isEmpty else { throw DataError.emptyClassFolder(path: dir) }
            paths += files.map { FileAccess.join(dir, $0) }
            labels += Array(repeating: label, count: files.count)
        }
        var train = ImageFolderDataset(name: "tiny-imagenet-train", paths: paths, labels: labels, classNames: wnids)

        let valDir = FileAccess.join(folder, "val")
        let valImages = FileAccess.join(valDir, "images")
        guard FileAccess.isDirectory(valImages) else { throw DataError.missingSplit(root: folder, split: "val", expected: "val/images/ and val/val_annotations.txt") }
        let annotations = FileAccess.join(valDir, "val_annotations.txt")
        let text = String(decoding: try FileAccess.read(annotations, expected: "the validation labels"), as: UTF8.self)
        let index = Dictionary(uniqueKeysWithValues: wnids.enumerated().map { ($1, $0) })
        let present = Set(try FileAccess.list(valImages, expected: "validation images"))
        var labelled: [(file: String, label: Int)] = []
        for (lineNo, line) in text.split(whereSeparator: \.isNewline).enumerated() {
            let fields = line.split(separator: "\t")
            guard fields.count >= 2 else { throw DataError.invalidArgument("\(annotations): line \(lineNo + 1) is not '<file>\\t<wnid>\\t<box>'") }
            let file = String(fields[0]), wnid = String(fields[1])
            guard let label = index[wnid] else {
                throw DataError.invalidArgument("\(annotations): line \(lineNo + 1) names \(wnid), which wnids.txt does not list")
            }
            guard present.contains(file) else {
                throw DataError.missingFile(path: FileAccess.join(valImages, file), expected: "the image named on line \(lineNo + 1) of \(annotations)")
            }
            labelled.append((file, label))
        }
        // Sorted by label, then file name, like the train split (and a class-folder val).
        labelled.sort { $0.label != $1.label ? $0.label < $1.label : $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
        var test = ImageFolderDataset(name: "tiny-imagenet-val", paths: labelled.map { FileAccess.join(valImages, $0.file) },
                                      labels: labelled.map(\.label), classNames: wnids)
        if let empty = test.countsPerClass().firstIndex(of: 0) {
            throw DataError.countMismatch(path: annotations, what: "validation images of \(wnids[empty])", expected: 50, actual: 0)
        }
        train.imageSize = imageSize
        test.imageSize = imageSize
        return Splits(train: train, test: test, root: folder, testSplit: "val", labelFiles: [wnidsFile, annotations])
    }

    // MARK: loading

    /// The first `perClass` images of each class, in file order.
    public static func firstImages(_ data: ImageFolderDataset, perClass: Int?) -> ImageFolderDataset {
        guard let perClass else { return data }
        var taken = [Int](repeating: 0, count: data.classNames.count)
        var keep: [Int] = []
        for (i, label) in data.labels.enumerated() where taken[label] < perClass {
            taken[label] += 1
            keep.append(i)
        }
        var out = ImageFolderDataset(name: data.name, paths: keep.map { data.paths[$0] }, labels: keep.map { data.labels[$0] }, classNames: data.classNames)
        out.imageSize = data.imageSize
        return out
    }

    /// Every image's header, read in parallel; CMYK JPEGs are refused here.
    public static func headers(_ data: ImageFolderDataset, threads: Int = 2) throws -> [ImageHeader] {
        try parallelMap(count: data.count, threads: threads) { i in
            let path = data.paths[i]
            let header = try ImageFile.header(try FileAccess.read(path, expected: "an image"), path: path)
            if header.cmyk {
                throw DataError.unsupportedImage(path: path, reason: "a CMYK JPEG; convert it to RGB first (e.g. ImageMagick: convert in.jpg -colorspace sRGB out.jpg)")
            }
            return header
        }
    }

    /// The one size every image shares (with `imageSize` set, that size); otherwise an
    /// error naming the first image whose size differs from the first image's.
    public static func uniformSize(_ data: ImageFolderDataset, threads: Int = 2) throws -> (height: Int, width: Int) {
        if let size = data.imageSize { return (size, size) }
        let all = try headers(data, threads: threads)
        guard let first = all.first else { throw DataError.invalidArgument("\(data.name): no images") }
        if let odd = all.firstIndex(where: { $0.height != first.height || $0.width != first.width }) {
            throw DataError.mixedImageSizes(path: data.paths[odd], height: all[odd].height, width: all[odd].width,
                                            firstPath: data.paths[0], firstHeight: first.height, firstWidth: first.width)
        }
        return (first.height, first.width)
    }

    /// Decodes (and resizes) every image into memory, in parallel: the cache for data
    /// that fits. All images must come out one size.
    public static func decodeAll(_ data: ImageFolderDataset, threads: Int = 2) throws -> ImageDataset {
        guard data.count > 0 else { throw DataError.invalidArgument("\(data.name): no images") }
        let first = try ImageFile.load(data.paths[0], size: data.imageSize)
        let bytes = first.pixels.count
        var pixels = [UInt8](repeating: 0, count: data.count * bytes)
        try pixels.withUnsafeMutableBufferPointer { buffer in
            let out = SendableBytes(base: buffer.baseAddress!)
            _ = try parallelMap(count: data.count, threads: threads) { i in
                let image = i == 0 ? first : try ImageFile.load(data.paths[i], size: data.imageSize)
                guard image.height == first.height, image.width == first.width else {
                    throw DataError.mixedImageSizes(path: data.paths[i], height: image.height, width: image.width,
                                                    firstPath: data.paths[0], firstHeight: first.height, firstWidth: first.width)
                }
                image.pixels.withUnsafeBufferPointer { (out.base + i * bytes).update(from: $0.baseAddress!, count: bytes) }
                return 0
            }
        }
        return try ImageDataset(name: data.name, height: first.height, width: first.width, channels: 3, pixels: pixels,
                                labels: data.labels, classNames: data.classNames)
    }

    /// `body(i)` for every i in 0..<count on `threads` workers (strided), results in index
    /// order; the error of the lowest failing index is thrown, whatever the timing.
    static func parallelMap<T: Sendable>(count: Int, threads: Int, _ body: @Sendable @escaping (Int) throws -> T) throws -> [T] {
        let results = ResultSlots<T>(count: count)
        let errors = ErrorSlot()
        let workers = max(1, min(threads, count))
        let work: @Sendable (Int) -> Void = { worker in
            for i in stride(from: worker, to: count, by: workers) {
                do { results.set(i, try body(i)) } catch { errors.record(slot: i, error) }
            }
        }
        if workers == 1 { work(0) } else { DispatchQueue.concurrentPerform(iterations: workers, execute: work) }
        if let error = errors.first { throw error }
        return results.values()
    }
}

struct SendableBytes: @unchecked Sendable {
    let base: UnsafeMutablePointer<UInt8>
}

/// Per-index results written by workers at disjoint indices.
final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [T?]
    private let lock = NSLock()
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ i: Int, _ value: T) { lock.lock(); slots[i] = value; lock.unlock() }
    func values() -> [T] { slots.compactMap { $0 } }
}
