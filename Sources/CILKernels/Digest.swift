/// 64-bit digests of tensor contents, used to prove that two runs computed the same bits
/// and (through `KernelObserver`) to replay a run kernel by kernel.
public enum Digest {
    /// FNV-1a over bytes, for short strings (stream purposes, names). Stable across
    /// processes, unlike `Hasher`.
    public static func fnv1a(_ text: String) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return h
    }

    /// Final avalanche of a 64-bit value (splitmix64's finaliser).
    @inlinable
    public static func mix(_ value: UInt64) -> UInt64 {
        var z = value
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }

    /// Digest of raw bytes, four independent lanes over 8-byte words so that hashing an
    /// activation tensor costs a fraction of the kernel that produced it.
    public static func bytes(_ pointer: UnsafeRawPointer, count: Int, seed: UInt64 = 0) -> UInt64 {
        let prime: UInt64 = 0x9e37_79b9_7f4a_7c15
        var lanes: (UInt64, UInt64, UInt64, UInt64) = (seed ^ 1, seed ^ 2, seed ^ 3, seed ^ 4)
        let words = count / 8
        let blocks = words / 4
        var i = 0
        while i < blocks {
            let base = pointer + i * 32
            lanes.0 = (lanes.0 ^ base.loadUnaligned(as: UInt64.self)) &* prime
            lanes.1 = (lanes.1 ^ base.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) &* prime
            lanes.2 = (lanes.2 ^ base.loadUnaligned(fromByteOffset: 16, as: UInt64.self)) &* prime
            lanes.3 = (lanes.3 ^ base.loadUnaligned(fromByteOffset: 24, as: UInt64.self)) &* prime
            lanes.0 ^= lanes.0 >> 29; lanes.1 ^= lanes.1 >> 29; lanes.2 ^= lanes.2 >> 29; lanes.3 ^= lanes.3 >> 29
            i += 1
        }
        var h = mix(lanes.0) ^ mix(lanes.1 &+ 1) ^ mix(lanes.2 &+ 2) ^ mix(lanes.3 &+ 3)
        var offset = blocks * 32
        while offset < count {
            h = (h ^ UInt64(pointer.load(fromByteOffset: offset, as: UInt8.self))) &* 0x0000_0100_0000_01b3
            offset += 1
        }
        return mix(h ^ UInt64(count))
    }

    /// Digest of a tensor: its dtype, shape, layout and every byte of its elements.
    public static func of(_ tensor: Tensor) -> UInt64 {
        var h = fnv1a("\(tensor.dtype.rawValue)|\(tensor.layout.rawValue)|\(tensor.shape)")
        h ^= bytes(tensor.storage.raw, count: tensor.count * tensor.dtype.byteWidth)
        return mix(h)
    }

    /// Order-dependent combination of digests (a chain).
    public static func combine(_ a: UInt64, _ b: UInt64) -> UInt64 {
        mix(a &* 0x9e37_79b9_7f4a_7c15 ^ b)
    }

    public static func hex(_ value: UInt64) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: 16 - s.count) + s
    }
}
