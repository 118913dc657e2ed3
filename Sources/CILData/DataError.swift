/// Everything that can be wrong with a user's dataset, each case naming the file and the
/// problem so that the command line can print one line and exit non-zero.
public enum DataError: Error, CustomStringConvertible, Equatable {
    case missingFile(path: String, expected: String)
    case missingSplit(root: String, split: String, expected: String)
    case unreadable(path: String, reason: String)
    case truncated(path: String, expectedBytes: Int, actualBytes: Int)
    case wrongRecordSize(path: String, fileBytes: Int, recordBytes: Int)
    case badMagic(path: String, found: UInt32, expected: UInt32)
    case labelOutOfRange(path: String, record: Int, label: Int, classCount: Int)
    case countMismatch(path: String, what: String, expected: Int, actual: Int)
    case corruptImage(path: String, reason: String)
    case emptyClassFolder(path: String)
    case unsupportedImage(path: String, reason: String)
    case mixedImageSizes(path: String, height: Int, width: Int, firstPath: String, firstHeight: Int, firstWidth: Int)
    case classMissingInSplit(path: String, className: String, presentIn: String)
    case badPickle(path: String, reason: String)
    case decompression(path: String, reason: String)
    case checksumMismatch(path: String, expected: String, actual: String)
    case invalidArgument(String)

    public var description: String {
        switch self {
        case .missingFile(let path, let expected):
            return "\(path): not found (expected \(expected))"
        case .missingSplit(let root, let split, let expected):
            return "\(root): split '\(split)' is missing (expected \(expected))"
        case .unreadable(let path, let reason):
            return "\(path): cannot be read (\(reason))"
        case .truncated(let path, let expected, let actual):
            return "\(path): truncated, \(actual) bytes where \(expected) were expected"
        case .wrongRecordSize(let path, let fileBytes, let recordBytes):
            return "\(path): \(fileBytes) bytes is not a whole number of \(recordBytes)-byte records"
        case .badMagic(let path, let found, let expected):
            return "\(path): magic number 0x\(String(found, radix: 16)) where 0x\(String(expected, radix: 16)) was expected (wrong or corrupt file)"
        case .labelOutOfRange(let path, let record, let label, let classCount):
            return "\(path): record \(record) has label \(label), outside 0..<\(classCount)"
        case .countMismatch(let path, let what, let expected, let actual):
            return "\(path): \(actual) \(what) where \(expected) were expected"
        case .corruptImage(let path, let reason):
            return "\(path): not a decodable image (\(reason))"
        case .emptyClassFolder(let path):
            return "\(path): class folder holds no images (.jpg, .jpeg or .png)"
        case .unsupportedImage(let path, let reason):
            return "\(path): unsupported image (\(reason))"
        case .mixedImageSizes(let path, let h, let w, let first, let fh, let fw):
            return "\(path): \(h)x\(w) image where \(first) is \(fh)x\(fw); a folder dataset without dataset.image_size needs one size (set image_size to resize on load)"
        case .classMissingInSplit(let path, let className, let presentIn):
            return "\(path): no folder for class '\(className)', which \(presentIn) has; both splits need the same classes"
        case .badPickle(let path, let reason):
            return "\(path): not a CIFAR python pickle (\(reason))"
        case .decompression(let path, let reason):
            return "\(path): gzip data is corrupt (\(reason))"
        case .checksumMismatch(let path, let expected, let actual):
            return "\(path): checksum \(actual) does not match the official \(expected)"
        case .invalidArgument(let what):
            return what
        }
    }
}
