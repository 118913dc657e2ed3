/// MT19937 seeded as numpy's legacy `RandomState.seed(int)` does (Matsumoto's
/// `init_genrand`), with numpy's bounded integer draw. It exists only to reproduce the
/// class orders the papers drew with `np.random.seed(1993)`; everything else in the suite
/// uses the counter-based `RandomStream`.
public struct MersenneTwister: Sendable {
    private var state: [UInt32]
    private var position: Int

    public init(seed: UInt32) {
        var mt = [UInt32](repeating: 0, count: 624)
        mt[0] = seed
        for i in 1..<624 {
            mt[i] = 1_812_433_253 &* (mt[i - 1] ^ (mt[i - 1] >> 30)) &+ UInt32(i)
        }
        state = mt
        position = 624
    }

    public mutating func next() -> UInt32 {
        if position == 624 { twist() }
        var y = state[position]
        position += 1
        y ^= y >> 11
        y ^= (y << 7) & 0x9D2C_5680
        y ^= (y << 15) & 0xEFC6_0000
        y ^= y >> 18
        return y
    }

    private mutating func twist() {
        for i in 0..<624 {
            let y = (state[i] & 0x8000_0000) | (state[(i + 1) % 624] & 0x7FFF_FFFF)
            var v = state[(i + 397) % 624] ^ (y >> 1)
            if y & 1 != 0 { v ^= 0x9908_B0DF }
            state[i] = v
        }
        position = 0
    }

    /// numpy's `random_interval(max)`: masked rejection sampling, uniform in 0...max.
    /// The mask matters: a different unbiased method would give a different order.
    public mutating func interval(_ max: UInt32) -> UInt32 {
        if max == 0 { return 0 }
        var mask = max
        mask |= mask >> 1
        mask |= mask >> 2
        mask |= mask >> 4
        mask |= mask >> 8
        mask |= mask >> 16
        while true {
            let v = next() & mask
            if v <= max { return v }
        }
    }

    /// `RandomState.shuffle(a)` on a 1-d array, in place.
    public mutating func shuffle<T>(_ a: inout [T]) {
        guard a.count > 1 else { return }
        for i in stride(from: a.count - 1, to: 0, by: -1) {
            let j = Int(interval(UInt32(i)))
            a.swapAt(i, j)
        }
    }

    /// `np.random.seed(seed); a = np.arange(n); np.random.shuffle(a)` (equally
    /// `np.random.permutation(n)`).
    public static func numpyPermutation(seed: UInt32, count n: Int) -> [Int] {
        var rng = MersenneTwister(seed: seed)
        var a = Array(0..<n)
        rng.shuffle(&a)
        return a
    }
}
