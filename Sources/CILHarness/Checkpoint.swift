import CILMethods
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The state after a finished phase, enough to continue the run as if never stopped:
/// every parameter and buffer by name (with its trainable flag), the head's shape, whether
/// the backbone is dual-branch, the exemplar memory and the phase records. Random streams
/// are keyed by (seed, phase, epoch, sample) and optimisers start afresh each phase, so no
/// generator or optimiser state needs saving.
public struct Checkpoint: Codable, Equatable {
    public static let schemaVersion = 1
    public var schemaVersion = Checkpoint.schemaVersion
    /// Fingerprint of what the run depends on (protocol, method, seed); resuming refuses a
    /// checkpoint of another run.
    public var runFingerprint: String
    public var finishedPhases: Int
    public var head: HeadStructure
    public var dualBranch: Bool
    public var parameters: [SavedParameter]
    public var memory: [[Int]]
    public var records: [PhaseOutcome]
    /// Training images a method replaced (Mnemonics), kept so a resumed run sees them.
    public var replacedImages: [ReplacedImage] = []
    /// AANets α's accumulated gradient under G3 (reference LUCIR), which the reference keeps
    /// across phases; nil when nothing accumulates. Older checkpoints lack it (nil).
    public var alphaGradientSum: [Double]? = nil
    /// What the run's bits depend on besides its settings: thread count, build and kernels
    /// (`RunExecution.computeIdentity`). Resuming under another one is refused, since the
    /// continued run could not end bit-identical to an unbroken one and its manifest would
    /// name only the later half's kernels. Older checkpoints lack it (nil) and resume as before.
    public var computeIdentity: [String: String]? = nil
    /// Digest of the parameter values as written, checked on every read: a checkpoint that
    /// does not reproduce it is refused rather than silently continued from.
    public var payloadDigest: String = ""

    public struct SavedParameter: Codable, Equatable {
        public var name: String
        public var shape: [Int]
        public var layout: Layout
        public var isTrainable: Bool
        /// Byte offset of the float32 values in the file's payload.
        public var offset: Int
    }

    public struct ReplacedImage: Codable, Equatable {
        public var index: Int
        public var pixels: [UInt8]

        public init(index: Int, pixels: [UInt8]) {
            self.index = index
            self.pixels = pixels
        }

        enum CodingKeys: String, CodingKey { case index, pixels }
        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            index = try c.decode(Int.self, forKey: .index)
            guard let data = Data(base64Encoded: try c.decode(String.self, forKey: .pixels)) else {
                throw DecodingError.dataCorruptedError(forKey: .pixels, in: c, debugDescription: "replaced image \(index) is not base64")
            }
            pixels = [UInt8](data)
        }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(Data(pixels).base64EncodedString(), forKey: .pixels)
        }
    }

    static let magic = Array("CILCKPT1".utf8)

    static func digest(_ payload: Data) -> String {
        payload.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return Digest.hex(0) }
            return Digest.hex(Digest.bytes(base, count: bytes.count))
        }
    }

    /// Writes `<path>` atomically: a temporary file, fsync, rename.
    public static func write(_ checkpoint: Checkpoint, tensors: [Tensor], to url: URL) throws {
        var header = checkpoint
        var payload = Data()
        for (i, t) in tensors.enumerated() {
            header.parameters[i].offset = payload.count
            let floats = t.converted(to: .float32)
            floats.withUnsafeBufferPointer(as: Float.self) { payload.append(UnsafeBufferPointer(start: $0.baseAddress, count: $0.count)) }
        }
        header.payloadDigest = digest(payload)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys  // the same bytes from every process
        let json = try encoder.encode(header)
        var file = Data(magic)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        file.append(payload)
        try AtomicFile.write(file, to: url)
    }

    public static func read(from url: URL) throws -> (Checkpoint, [String: Tensor]) {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw HarnessError.unreadable(url.path, reason: error.localizedDescription) }
        guard data.count >= 16, Array(data.prefix(8)) == magic else { throw HarnessError.corrupt(url.path, reason: "not a cilbench checkpoint") }
        let length = data[8..<16].withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard 16 + Int(length) <= data.count else { throw HarnessError.corrupt(url.path, reason: "truncated header") }
        let checkpoint: Checkpoint
        do { checkpoint = try JSONDecoder().decode(Checkpoint.self, from: data[16..<(16 + Int(length))]) } catch {
            throw HarnessError.corrupt(url.path, reason: "unreadable header (\(error))")
        }
        guard checkpoint.schemaVersion == schemaVersion else {
            throw HarnessError.corrupt(url.path, reason: "schema version \(checkpoint.schemaVersion), this build reads \(schemaVersion)")
        }
        let payload = data[(16 + Int(length))...]
        let actual = digest(payload)
        guard actual == checkpoint.payloadDigest else {
            throw HarnessError.corrupt(url.path, reason: "parameter values do not match their digest (\(actual) ≠ \(checkpoint.payloadDigest))")
        }
        var tensors: [String: Tensor] = [:]
        for p in checkpoint.parameters {
            let count = p.shape.reduce(1, *)
            let start = payload.startIndex + p.offset, end = start + count * 4
            guard p.offset >= 0, end <= payload.endIndex else { throw HarnessError.corrupt(url.path, reason: "truncated values of \(p.name)") }
            let floats = payload[start..<end].withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            tensors[p.name] = Tensor(shape: p.shape, scalars: floats, layout: p.layout)
        }
        return (checkpoint, tensors)
    }
}

/// Write-then-rename, so a killed process never leaves a file that looks complete.
public enum AtomicFile {
    /// A temporary name no other writer (process or thread) uses at the same time.
    public static func uniqueSuffix() -> String { "partial-\(getpid())-\(String(UInt64.random(in: 0...UInt64.max), radix: 16))" }

    public static func write(_ data: Data, to url: URL) throws {
        let folder = url.deletingLastPathComponent()
        do { try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true) } catch {
            throw HarnessError.unwritable(folder.path, reason: error.localizedDescription)
        }
        let temporary = folder.appendingPathComponent(".\(url.lastPathComponent).\(uniqueSuffix())")
        let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw HarnessError.unwritable(url.path, reason: String(cString: strerror(errno))) }
        // POSIX calls, so a full disk says "No space left on device".
        var failure: String?
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) in
            var written = 0
            while written < buffer.count, let base = buffer.baseAddress {
                let n = Glibc.write(fd, base + written, buffer.count - written)
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = String(cString: strerror(errno))
                    return
                }
                written += n
            }
            if fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
        }
        close(fd)
        if let failure {
            unlink(temporary.path)
            throw HarnessError.unwritable(url.path, reason: failure)
        }
        guard rename(temporary.path, url.path) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(temporary.path)
            throw HarnessError.unwritable(url.path, reason: reason)
        }
        let folderFD = open(folder.path, O_RDONLY)
        if folderFD >= 0 { fsync(folderFD); close(folderFD) }
    }
}

public enum HarnessError: Error, CustomStringConvertible, Equatable {
    case unreadable(String, reason: String)
    case unwritable(String, reason: String)
    case corrupt(String, reason: String)
    case mismatch(String)

    public var description: String {
        switch self {
        case .unreadable(let path, let reason): "\(path): cannot read: \(reason)"
        case .unwritable(let path, let reason): "\(path): cannot write: \(reason)"
        case .corrupt(let path, let reason): "\(path): \(reason)"
        case .mismatch(let what): what
        }
    }
}
