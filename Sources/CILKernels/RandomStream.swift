/// Counter-based random numbers (Philox4x32-10, Salmon et al. 2011). A stream is named by
/// (seed, purpose, up to three indices such as phase, epoch, sample), so the numbers a
/// consumer sees never depend on what other consumers drew, on thread timing or on
/// iteration order. There is no shared generator to advance.
public struct RandomStream: Sendable {
    public let key: (UInt32, UInt32)
    public let indices: (UInt32, UInt32, UInt32)
    /// Position inside the stream, in 128-bit blocks.
    public private(set) var block: UInt32 = 0
    private var buffer: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    public init(seed: UInt64, purpose: String, _ i0: Int = 0, _ i1: Int = 0, _ i2: Int = 0) {
        let k = Digest.mix(seed ^ Digest.mix(Digest.fnv1a(purpose)))
        key = (UInt32(truncatingIfNeeded: k), UInt32(truncatingIfNeeded: k >> 32))
        indices = (UInt32(truncatingIfNeeded: i0), UInt32(truncatingIfNeeded: i1), UInt32(truncatingIfNeeded: i2))
    }

    /// A new stream keyed by this one's key and more indices (e.g. per sample).
    public func substream(_ i0: Int, _ i1: Int = 0, _ i2: Int = 0) -> RandomStream {
        var s = self
        s.rekey(i0, i1, i2)
        return s
    }

    private mutating func rekey(_ i0: Int, _ i1: Int, _ i2: Int) {
        let folded = Digest.mix(UInt64(key.0) | UInt64(key.1) << 32 ^ Digest.mix(UInt64(indices.0) | UInt64(indices.1) << 32 ^ UInt64(indices.2) << 17))
        self = RandomStream(rawKey: folded, indices: (UInt32(truncatingIfNeeded: i0), UInt32(truncatingIfNeeded: i1), UInt32(truncatingIfNeeded: i2)))
    }

    private init(rawKey: UInt64, indices: (UInt32, UInt32, UInt32)) {
        key = (UInt32(truncatingIfNeeded: rawKey), UInt32(truncatingIfNeeded: rawKey >> 32))
        self.indices = indices
    }

    /// The Philox4x32-10 block function.
    public static func philox(counter: (UInt32, UInt32, UInt32, UInt32), key: (UInt32, UInt32)) -> (UInt32, UInt32, UInt32, UInt32) {
        var c = counter
        var k = key
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c.0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c.2)
            c = (UInt32(truncatingIfNeeded: p1 >> 32) ^ c.1 ^ k.0, UInt32(truncatingIfNeeded: p1),
                 UInt32(truncatingIfNeeded: p0 >> 32) ^ c.3 ^ k.1, UInt32(truncatingIfNeeded: p0))
            k.0 = k.0 &+ 0x9E37_79B9
            k.1 = k.1 &+ 0xBB67_AE85
        }
        return c
    }

    public mutating func nextUInt32() -> UInt32 {
        if used == 4 {
            buffer = Self.philox(counter: (block, indices.0, indices.1, indices.2), key: key)
            block &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return buffer.0
        case 1: return buffer.1
        case 2: return buffer.2
        default: return buffer.3
        }
    }

    public mutating func nextUInt64() -> UInt64 {
        UInt64(nextUInt32()) << 32 | UInt64(nextUInt32())
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func nextFloat() -> Float {
        Float(nextUInt32() >> 8) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func nextDouble() -> Double {
        Double(nextUInt64() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Uniform integer in 0..<bound, without modulo bias (Lemire's method with rejection).
    public mutating func nextInt(below bound: Int) -> Int {
        precondition(bound > 0)
        let b = UInt64(bound)
        while true {
            let x = nextUInt64()
            let (hi, lo) = x.multipliedFullWidth(by: b)
            if lo >= (0 &- b) % b { return Int(hi) }
        }
    }

    /// Standard normal (Box-Muller, both values drawn afresh each call for simplicity).
    public mutating func nextNormal() -> Double {
        let u1 = 1.0 - nextDouble()
        let u2 = nextDouble()
        return (-2.0 * _log(u1)).squareRoot() * _cos(2.0 * Double.pi * u2)
    }

    /// Fisher-Yates permutation of 0..<n.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<n)
        if n > 1 {
            for i in stride(from: n - 1, to: 0, by: -1) { p.swapAt(i, nextInt(below: i + 1)) }
        }
        return p
    }
}

@inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
import Foundation
