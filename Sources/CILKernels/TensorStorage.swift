import Foundation

/// A 64-byte aligned, zero-initialised byte buffer. Tensors share it copy-on-write.
public final class TensorStorage: @unchecked Sendable {
    public let byteCount: Int
    public let raw: UnsafeMutableRawPointer

    public init(byteCount: Int, zeroed: Bool = true) {
        self.byteCount = byteCount
        raw = UnsafeMutableRawPointer.allocate(byteCount: max(byteCount, 64), alignment: 64)
        if zeroed { raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(byteCount, 64)) }
    }

    public func copy() -> TensorStorage {
        let other = TensorStorage(byteCount: byteCount, zeroed: false)
        other.raw.copyMemory(from: raw, byteCount: byteCount)
        return other
    }

    deinit { raw.deallocate() }
}
