import CILKernels
import Foundation

/// The full kernel trace of `cilbench run --trace`: one compact binary record per kernel
/// call, zstd-compressed into the bundle as `trace.zst`.
///
/// Format (all integers LEB128 varints unless noted; signed ones zig-zag encoded):
///   magic "CILTRACE", format version byte (1), then items, each starting with a tag byte:
///   0 kind:     name length, UTF-8 name; the next kind index (0, 1, ...) refers to it
///   1 context:  phase, epoch, step (signed), stage byte; applies to the calls after it
///   3 layer:    name length, UTF-8 name; the next layer index (1, 2, ...) refers to it
///   2 call:     sequence delta (from the previous call), kind index, layer index (0: none), shape count, per
///               shape its rank and sizes, input digest count, input digests and the output
///               digest (8 bytes little-endian each)
/// Kinds and contexts are written only when they change, so a call costs about 10 bytes
/// plus its digests before compression.
public enum KernelTrace {
    static let magic = Array("CILTRACE".utf8)
    public static let version: UInt8 = 1
    public static let memberName = "trace.zst"

    /// Reads every record of a (decompressed) trace.
    public static func decode(_ bytes: [UInt8]) throws(BundleError) -> [KernelRecord] {
        var reader = try Reader(bytes)
        var out: [KernelRecord] = []
        while let r = try reader.next() { out.append(r) }
        return out
    }

    /// Writes records as a (decompressed) trace; the recorder's encoding, for tests and tools.
    public static func encode(_ records: [KernelRecord]) -> [UInt8] {
        let w = Recorder()
        for r in records { w.append(r) }
        return w.bytes
    }

    /// The observer `run --trace` attaches: digests every call and appends its record.
    public final class Recorder: KernelObserver {
        public private(set) var bytes: [UInt8] = KernelTrace.magic + [KernelTrace.version]
        public private(set) var count = 0
        private var kinds: [String: Int] = [:]
        private var layers: [String: Int] = [:]
        private var context: KernelContext?
        private var lastSequence = 0

        public init() {}

        public func kernelDidRun(_ record: KernelRecord) { append(record) }

        func append(_ r: KernelRecord) {
            if context != r.context {
                bytes.append(1)
                putSigned(Int(r.context.phase)); putSigned(Int(r.context.epoch)); putSigned(Int(r.context.step))
                bytes.append(r.context.stage.rawValue)
                context = r.context
            }
            let kind: Int
            if let known = kinds[r.kind] { kind = known } else {
                kind = kinds.count
                kinds[r.kind] = kind
                bytes.append(0)
                put(r.kind.utf8.count)
                bytes += r.kind.utf8
            }
            var layer = 0
            if let name = r.layer {
                if let known = layers[name] { layer = known } else {
                    layer = layers.count + 1
                    layers[name] = layer
                    bytes.append(3)
                    put(name.utf8.count)
                    bytes += name.utf8
                }
            }
            bytes.append(2)
            putSigned(r.sequence - lastSequence)
            lastSequence = r.sequence
            put(kind)
            put(layer)
            put(r.shapes.count)
            for shape in r.shapes {
                put(shape.count)
                for d in shape { put(d) }
            }
            put(r.inputDigests.count)
            for d in r.inputDigests { put64(d) }
            put64(r.outputDigest)
            count += 1
        }

        private func put(_ value: Int) {
            var v = UInt64(bitPattern: Int64(value))
            while v >= 0x80 { bytes.append(UInt8(v & 0x7f) | 0x80); v >>= 7 }
            bytes.append(UInt8(v))
        }

        private func putSigned(_ value: Int) { put(Int(bitPattern: UInt(bitPattern: (value << 1) ^ (value >> 63)))) }

        private func put64(_ value: UInt64) { withUnsafeBytes(of: value.littleEndian) { bytes += $0 } }
    }

    /// Reads records one at a time, so a replay holds the decompressed trace but not a
    /// second copy of it as records.
    public struct Reader {
        private let bytes: [UInt8]
        private var offset: Int
        private var kinds: [String] = []
        private var layers: [String] = []
        private var context = KernelContext()
        private var sequence = 0

        public init(_ bytes: [UInt8]) throws(BundleError) {
            guard bytes.count > KernelTrace.magic.count, Array(bytes.prefix(KernelTrace.magic.count)) == KernelTrace.magic else {
                throw .corrupt("\(KernelTrace.memberName) is not a kernel trace")
            }
            guard bytes[KernelTrace.magic.count] == KernelTrace.version else {
                throw .corrupt("\(KernelTrace.memberName) has format version \(bytes[KernelTrace.magic.count]), this build reads \(KernelTrace.version)")
            }
            self.bytes = bytes
            offset = KernelTrace.magic.count + 1
        }

        /// The next call's record, nil at the end.
        public mutating func next() throws(BundleError) -> KernelRecord? {
            while offset < bytes.count {
                let tag = bytes[offset]
                offset += 1
                switch tag {
                case 0, 3:
                    let n = try count()
                    guard offset + n <= bytes.count else { throw truncated() }
                    let name = String(decoding: bytes[offset..<(offset + n)], as: UTF8.self)
                    if tag == 0 { kinds.append(name) } else { layers.append(name) }
                    offset += n
                case 1:
                    let phase = try signed(), epoch = try signed(), step = try signed()
                    guard offset < bytes.count, let stage = KernelStage(rawValue: bytes[offset]) else { throw truncated() }
                    offset += 1
                    context = KernelContext(phase: phase, epoch: epoch, step: step, stage: stage)
                case 2:
                    sequence += try signed()
                    let k = try count()
                    guard k < kinds.count else { throw BundleError.corrupt("\(KernelTrace.memberName): call \(sequence) names kind \(k) before defining it") }
                    let l = try count()
                    guard l <= layers.count else { throw BundleError.corrupt("\(KernelTrace.memberName): call \(sequence) names layer \(l) before defining it") }
                    var shapes: [[Int]] = []
                    for _ in 0..<(try count()) {
                        var shape: [Int] = []
                        for _ in 0..<(try count()) { shape.append(try count()) }
                        shapes.append(shape)
                    }
                    var inputs: [UInt64] = []
                    for _ in 0..<(try count()) { inputs.append(try word()) }
                    return KernelRecord(sequence: sequence, context: context, layer: l == 0 ? nil : layers[l - 1], kind: kinds[k], shapes: shapes, inputDigests: inputs, outputDigest: try word())
                default:
                    throw BundleError.corrupt("\(KernelTrace.memberName): unknown item tag \(tag) at byte \(offset - 1)")
                }
            }
            return nil
        }

        private func truncated() -> BundleError { .corrupt("\(KernelTrace.memberName) is truncated at byte \(offset)") }

        private mutating func varint() throws(BundleError) -> UInt64 {
            var v: UInt64 = 0, shift: UInt64 = 0
            while true {
                guard offset < bytes.count, shift < 64 else { throw truncated() }
                let b = bytes[offset]
                offset += 1
                v |= UInt64(b & 0x7f) << shift
                if b < 0x80 { return v }
                shift += 7
            }
        }

        /// A non-negative count or size, bounded so a damaged trace cannot make us allocate wildly.
        private mutating func count() throws(BundleError) -> Int {
            let v = try varint()
            guard v < 1 << 40 else { throw BundleError.corrupt("\(KernelTrace.memberName): implausible size \(v) at byte \(offset)") }
            return Int(v)
        }

        private mutating func signed() throws(BundleError) -> Int {
            let v = try varint()
            return Int(Int64(bitPattern: v >> 1) ^ -Int64(bitPattern: v & 1))
        }

        private mutating func word() throws(BundleError) -> UInt64 {
            guard offset + 8 <= bytes.count else { throw truncated() }
            var v: UInt64 = 0
            for i in 0..<8 { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
            offset += 8
            return v
        }
    }
}
