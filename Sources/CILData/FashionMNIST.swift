/// Fashion-MNIST in idx format, gzip'd or not (Debian's dataset-fashion-mnist installs
/// `/usr/share/datasets/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`).
public enum FashionMNIST {
    public static let debianRoot = "/usr/share/datasets/fashion-mnist"
    public static let classNames = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    static let imageMagic: UInt32 = 0x0000_0803
    static let labelMagic: UInt32 = 0x0000_0801

    public enum Split: String, Sendable, CaseIterable {
        case train, test
        var prefix: String { self == .train ? "train" : "t10k" }
        public var officialCount: Int { self == .train ? 60_000 : 10_000 }
    }

    /// The image and label files of a split, preferring uncompressed ones when both exist.
    public static func files(root: String, split: Split) throws -> (images: String, labels: String) {
        guard FileAccess.isDirectory(root) else {
            throw DataError.missingFile(path: root, expected: "a folder holding Fashion-MNIST idx files")
        }
        func find(_ base: String) throws -> String {
            guard let path = FileAccess.locate(root: root, [base, base + ".gz"]) else {
                throw DataError.missingSplit(root: root, split: split.rawValue, expected: "\(base) or \(base).gz")
            }
            return path
        }
        return (try find("\(split.prefix)-images-idx3-ubyte"), try find("\(split.prefix)-labels-idx1-ubyte"))
    }

    /// Reads a split as 28x28x1 images. `ImageDataset.padded(to: 32, channels: 3)` turns
    /// it into CIFAR-shaped input for ResNet-32.
    public static func read(root: String = debianRoot, split: Split) throws -> ImageDataset {
        let (imagePath, labelPath) = try files(root: root, split: split)
        let images = try IDX.read(imagePath, magic: imageMagic)
        let labels = try IDX.read(labelPath, magic: labelMagic)
        guard images.dims.count == 3 else { throw DataError.invalidArgument("\(imagePath): idx images must have 3 dimensions") }
        guard images.dims[0] == labels.dims[0] else {
            throw DataError.countMismatch(path: labelPath, what: "labels", expected: images.dims[0], actual: labels.dims[0])
        }
        let ints = labels.data.map(Int.init)
        if let bad = ints.firstIndex(where: { $0 >= classNames.count }) {
            throw DataError.labelOutOfRange(path: labelPath, record: bad, label: ints[bad], classCount: classNames.count)
        }
        return try ImageDataset(name: "fashion-mnist-\(split.rawValue)", height: images.dims[1], width: images.dims[2], channels: 1,
                                pixels: images.data, labels: ints, classNames: classNames)
    }
}

/// The idx format: big-endian magic (0x08 = uint8 data, low byte = rank), big-endian
/// dimension sizes, then the data.
enum IDX {
    static func read(_ path: String, magic expected: UInt32) throws -> (dims: [Int], data: [UInt8]) {
        var bytes = try FileAccess.read(path, expected: "an idx file")
        if Gzip.isGzip(bytes) { bytes = try Gzip.decompress(bytes, path: path) }
        guard bytes.count >= 4 else { throw DataError.truncated(path: path, expectedBytes: 4, actualBytes: bytes.count) }
        let magic = be32(bytes, 0)
        guard magic == expected else { throw DataError.badMagic(path: path, found: magic, expected: expected) }
        let rank = Int(magic & 0xFF)
        let header = 4 + 4 * rank
        guard bytes.count >= header else { throw DataError.truncated(path: path, expectedBytes: header, actualBytes: bytes.count) }
        let dims = (0..<rank).map { Int(be32(bytes, 4 + 4 * $0)) }
        let n = dims.reduce(1, *)
        guard bytes.count >= header + n else { throw DataError.truncated(path: path, expectedBytes: header + n, actualBytes: bytes.count) }
        guard bytes.count == header + n else { throw DataError.wrongRecordSize(path: path, fileBytes: bytes.count, recordBytes: dims.dropFirst().reduce(1, *)) }
        return (dims, Array(bytes[header...]))
    }

    static func be32(_ b: [UInt8], _ at: Int) -> UInt32 {
        UInt32(b[at]) << 24 | UInt32(b[at + 1]) << 16 | UInt32(b[at + 2]) << 8 | UInt32(b[at + 3])
    }

    static func encode(magic: UInt32, dims: [Int], data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        for v in [magic] + dims.map(UInt32.init) { out += [UInt8(v >> 24), UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)] }
        return out + data
    }
}
