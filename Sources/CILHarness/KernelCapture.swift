import CILKernels
import Foundation

/// One captured kernel call in a file (`cilbench replay --capture SEQ`), small enough to
/// send to another machine: the call (kind, attributes, inputs, output as computed by the
/// capturing replay), where it happened, the capturing environment, and the recorded run's
/// digests of the call when the bundle had a full trace.
///
/// File: zstd of [8-byte little-endian header length][header JSON][tensor bytes, inputs in
/// order, then the output].
public struct KernelCapture: Sendable {
    public var call: KernelCall
    public var sequence: Int
    public var bundle: String
    public var environment: [String: String]
    public var build: String
    /// The recorded run's output digest of this call (nil without a trace).
    public var recordedOutputDigest: UInt64?
    public var recordedInputDigests: [UInt64]?

    public init(call: KernelCall, sequence: Int, bundle: String, environment: [String: String], build: String, recorded: KernelRecord?) {
        self.call = call
        self.sequence = sequence
        self.bundle = bundle
        self.environment = environment
        self.build = build
        recordedOutputDigest = recorded?.outputDigest
        recordedInputDigests = recorded?.inputDigests
    }

    public enum CaptureError: Error, CustomStringConvertible {
        case unreadable(String, String)
        case notCapturable(sequence: Int, kind: String)
        case notReached(sequence: Int, calls: Int)

        public var description: String {
            switch self {
            case .unreadable(let path, let why): return "\(path): not a kernel capture (\(why))"
            case .notCapturable(let sequence, let kind):
                return "kernel call #\(sequence) is a \(kind), which is not capturable (capturable: \(KernelCall.capturableKinds.sorted().joined(separator: ", ")))"
            case .notReached(let sequence, let calls): return "the run made only \(calls) kernel calls; there is no call #\(sequence)"
            }
        }
    }

    private struct TensorMeta: Codable { var shape: [Int]; var dtype: DType; var layout: Layout }
    private struct Header: Codable {
        var format: Int
        var kind: String
        var attributes: [String: Double]
        var sequence: Int
        var phase: Int, epoch: Int, step: Int, stage: UInt8
        var inputs: [TensorMeta]
        var output: TensorMeta
        var bundle: String
        var environment: [String: String]
        var build: String
        var recordedOutputDigest: String?
        var recordedInputDigests: [String]?
    }

    public func write(to path: String) throws {
        let c = call
        let meta = { (t: Tensor) in TensorMeta(shape: t.shape, dtype: t.dtype, layout: t.layout) }
        let header = Header(format: 1, kind: c.kind, attributes: c.attributes, sequence: sequence, phase: Int(c.context.phase),
                            epoch: Int(c.context.epoch), step: Int(c.context.step), stage: c.context.stage.rawValue,
                            inputs: c.inputs.map(meta), output: meta(c.output), bundle: bundle, environment: environment, build: build,
                            recordedOutputDigest: recordedOutputDigest.map(Digest.hex), recordedInputDigests: recordedInputDigests?.map(Digest.hex))
        let json = Array(try ResultBundle.jsonEncoder(pretty: false).encode(header))
        var bytes: [UInt8] = []
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
        bytes += json
        for t in c.inputs + [c.output] {
            bytes += UnsafeRawBufferPointer(start: t.storage.raw, count: t.count * t.dtype.byteWidth)
        }
        let compressed = try Zstd.compress(bytes, level: 3)
        let temporary = path + ".partial-\(getpid())"
        guard FileManager.default.createFile(atPath: temporary, contents: Data(compressed)) else {
            throw BundleError.io("cannot write \(temporary)")
        }
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw BundleError.io("cannot rename \(temporary) to \(path): \(String(cString: strerror(errno)))")
        }
    }

    public static func read(path: String) throws -> KernelCapture {
        guard let data = FileManager.default.contents(atPath: path) else { throw CaptureError.unreadable(path, "cannot read the file") }
        let bytes: [UInt8]
        do { bytes = try Zstd.decompress(Array(data), limit: 1 << 34) } catch { throw CaptureError.unreadable(path, "\(error)") }
        guard bytes.count >= 8 else { throw CaptureError.unreadable(path, "too short") }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[i]) << (8 * UInt64(i)) }
        guard length <= UInt64(bytes.count - 8) else { throw CaptureError.unreadable(path, "header length \(length) beyond the file") }
        let header: Header
        do { header = try JSONDecoder().decode(Header.self, from: Data(bytes[8..<(8 + Int(length))])) } catch {
            throw CaptureError.unreadable(path, "header does not parse: \(ResultBundle.describe(error))")
        }
        guard header.format == 1 else { throw CaptureError.unreadable(path, "format \(header.format), this build reads 1") }
        guard let stage = KernelStage(rawValue: header.stage) else { throw CaptureError.unreadable(path, "unknown stage \(header.stage)") }
        var offset = 8 + Int(length)
        func tensor(_ m: TensorMeta) throws -> Tensor {
            guard m.shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }) else { throw CaptureError.unreadable(path, "bad shape \(m.shape)") }
            let t = Tensor(uninitialized: m.shape, dtype: m.dtype, layout: m.layout)
            let n = t.count * t.dtype.byteWidth
            guard offset + n <= bytes.count else { throw CaptureError.unreadable(path, "tensor data truncated") }
            bytes.withUnsafeBytes { t.storage.raw.copyMemory(from: $0.baseAddress! + offset, byteCount: n) }
            offset += n
            return t
        }
        let inputs = try header.inputs.map(tensor)
        let output = try tensor(header.output)
        guard offset == bytes.count else { throw CaptureError.unreadable(path, "\(bytes.count - offset) bytes after the tensors") }
        let context = KernelContext(phase: header.phase, epoch: header.epoch, step: header.step, stage: stage)
        var capture = KernelCapture(call: KernelCall(kind: header.kind, attributes: header.attributes, inputs: inputs, output: output, context: context),
                                    sequence: header.sequence, bundle: header.bundle, environment: header.environment, build: header.build, recorded: nil)
        capture.recordedOutputDigest = header.recordedOutputDigest.flatMap { UInt64($0, radix: 16) }
        capture.recordedInputDigests = header.recordedInputDigests?.compactMap { UInt64($0, radix: 16) }
        return capture
    }
}
