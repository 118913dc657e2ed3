/// CIFAR's python archives: `cifar-100-python/{train,test,meta}` (keys `data`,
/// `fine_labels`, `coarse_labels`, `filenames`; meta `fine_label_names`) and
/// `cifar-10-batches-py/{data_batch_1..5,test_batch,batches.meta}` (keys `data`, `labels`;
/// meta `label_names`). `data` is a uint8 array of N rows of 3072 CHW bytes.
extension CIFAR {
    static func pickleFolder(_ variant: Variant) -> String { variant == .cifar10 ? "cifar-10-batches-py" : "cifar-100-python" }

    public static func pickleFiles(_ variant: Variant, _ split: Split) -> [String] {
        switch (variant, split) {
        case (.cifar100, .train): return ["train"]
        case (.cifar100, .test): return ["test"]
        case (.cifar10, .train): return (1...5).map { "data_batch_\($0)" }
        case (.cifar10, .test): return ["test_batch"]
        }
    }

    public static func readPickle(root: String, variant: Variant = .cifar100, split: Split, requireOfficialCounts: Bool = false) throws -> ImageDataset {
        let inner = FileAccess.join(root, pickleFolder(variant))
        let folder = FileAccess.isDirectory(inner) ? inner : root
        guard FileAccess.isDirectory(folder) else {
            throw DataError.missingFile(path: root, expected: "a folder holding \(pickleFolder(variant))/")
        }
        let files = pickleFiles(variant, split)
        if !files.contains(where: { FileAccess.exists(FileAccess.join(folder, $0)) }) {
            throw DataError.missingSplit(root: folder, split: split.rawValue, expected: files.joined(separator: ", "))
        }
        var pixels: [UInt8] = []
        var labels: [Int] = []
        let labelKey = variant == .cifar10 ? "labels" : "fine_labels"
        for file in files {
            let path = FileAccess.join(folder, file)
            let root = try Pickle.load(try FileAccess.read(path, expected: "a CIFAR python pickle"), path: path)
            guard case .array(let array)? = root["data"] else { throw DataError.badPickle(path: path, reason: "no numpy array under 'data'") }
            guard let fileLabels = root[labelKey]?.intList else { throw DataError.badPickle(path: path, reason: "no integer list under '\(labelKey)'") }
            guard array.dtype == "u1", array.shape.count == 2, array.shape[1] == 3072 else {
                throw DataError.badPickle(path: path, reason: "'data' is \(array.dtype) \(array.shape), expected u1 [N, 3072]")
            }
            let n = array.shape[0]
            guard array.data.count == n * 3072 else {
                throw DataError.truncated(path: path, expectedBytes: n * 3072, actualBytes: array.data.count)
            }
            guard fileLabels.count == n else {
                throw DataError.countMismatch(path: path, what: "labels", expected: n, actual: fileLabels.count)
            }
            if requireOfficialCounts && n != variant.officialCount(split) / files.count {
                throw DataError.countMismatch(path: path, what: "images", expected: variant.officialCount(split) / files.count, actual: n)
            }
            if let bad = fileLabels.firstIndex(where: { $0 < 0 || $0 >= variant.classCount }) {
                throw DataError.labelOutOfRange(path: path, record: bad, label: fileLabels[bad], classCount: variant.classCount)
            }
            labels += fileLabels
            pixels.reserveCapacity(pixels.count + n * 3072)
            array.data.withUnsafeBufferPointer { b in
                for r in 0..<n { appendCHWasHWC(b, from: r * 3072, to: &pixels) }
            }
        }
        var names = (0..<variant.classCount).map { "class\($0)" }
        let metaPath = FileAccess.join(folder, variant == .cifar10 ? "batches.meta" : "meta")
        if FileAccess.exists(metaPath) {
            let meta = try Pickle.load(try FileAccess.read(metaPath, expected: "CIFAR meta pickle"), path: metaPath)
            let key = variant == .cifar10 ? "label_names" : "fine_label_names"
            guard let list = meta[key]?.stringList, list.count == variant.classCount else {
                throw DataError.badPickle(path: metaPath, reason: "no list of \(variant.classCount) names under '\(key)'")
            }
            names = list
        }
        return try ImageDataset(name: "\(variant.rawValue)-\(split.rawValue)", height: 32, width: 32, channels: 3, pixels: pixels, labels: labels, classNames: names)
    }
}

/// Writes pickles in the shape of the official CIFAR files: protocol 2 as Python 2's
/// cPickle wrote them (str keys as SHORT_BINSTRING, the array through
/// numpy.core.multiarray._reconstruct with its bytes in one BINSTRING).
struct PickleWriter {
    private(set) var bytes: [UInt8] = [0x80, 2]

    mutating func int(_ v: Int) {
        if v >= 0 && v < 256 { bytes += [0x4B, UInt8(v)] }
        else if v >= 0 && v < 65536 { bytes += [0x4D, UInt8(v & 0xFF), UInt8(v >> 8)] }
        else { bytes.append(0x4A); le32(UInt32(bitPattern: Int32(v))) }
    }

    mutating func le32(_ v: UInt32) { for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) } }

    mutating func str(_ s: String) { str(Array(s.utf8)) }

    mutating func str(_ b: [UInt8]) {
        if b.count < 256 { bytes += [0x55, UInt8(b.count)] } else { bytes.append(0x54); le32(UInt32(b.count)) }
        bytes += b
    }

    mutating func global(_ module: String, _ name: String) { bytes.append(0x63); bytes += Array("\(module)\n\(name)\n".utf8) }
    mutating func op(_ code: UInt8) { bytes.append(code) }

    mutating func intList(_ values: [Int]) {
        op(0x5D)
        for chunk in stride(from: 0, to: values.count, by: 1000) {
            op(0x28)
            for v in values[chunk..<min(chunk + 1000, values.count)] { int(v) }
            op(0x65)
        }
    }

    mutating func strList(_ values: [String]) {
        op(0x5D)
        if !values.isEmpty { op(0x28); values.forEach { str($0) }; op(0x65) }
    }

    mutating func uint8Matrix(rows: Int, columns: Int, data: [UInt8]) {
        global("numpy.core.multiarray", "_reconstruct")
        global("numpy", "ndarray")
        int(0); op(0x85); str("b"); op(0x87); op(0x52)
        op(0x28)
        int(1); int(rows); int(columns); op(0x86)
        global("numpy", "dtype"); str("u1"); int(0); int(1); op(0x87); op(0x52)
        op(0x28); int(3); str("|"); op(0x4E); op(0x4E); op(0x4E); int(-1); int(-1); int(0); op(0x74); op(0x62)
        op(0x89); str(data)
        op(0x74); op(0x62)
    }
}
