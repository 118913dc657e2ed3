import CILKernels
import Testing

@Suite struct RandomStreamTests {
    /// Random123's published known-answer vectors for Philox4x32-10 (tests/kat_vectors).
    @Test func philoxKnownAnswers() {
        let zero = RandomStream.philox(counter: (0, 0, 0, 0), key: (0, 0))
        #expect([zero.0, zero.1, zero.2, zero.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        let ones = RandomStream.philox(counter: (.max, .max, .max, .max), key: (.max, .max))
        #expect([ones.0, ones.1, ones.2, ones.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
        let pi = RandomStream.philox(counter: (0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), key: (0xa409_3822, 0x299f_31d0))
        #expect([pi.0, pi.1, pi.2, pi.3] == [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1])
    }

    @Test func streamsAreKeyedByPurposeAndIndices() {
        var a = RandomStream(seed: 1993, purpose: "augment", 1, 2)
        var b = RandomStream(seed: 1993, purpose: "augment", 1, 2)
        var c = RandomStream(seed: 1993, purpose: "augment", 1, 3)
        var d = RandomStream(seed: 1993, purpose: "shuffle", 1, 2)
        let xa = (0..<16).map { _ in a.nextUInt32() }
        #expect(xa == (0..<16).map { _ in b.nextUInt32() })
        #expect(xa != (0..<16).map { _ in c.nextUInt32() })
        #expect(xa != (0..<16).map { _ in d.nextUInt32() })
        var s1 = RandomStream(seed: 7, purpose: "x").substream(5)
        var s2 = RandomStream(seed: 7, purpose: "x").substream(6)
        #expect(s1.nextUInt64() != s2.nextUInt64())
    }

    @Test func distributionsLookRight() {
        var s = RandomStream(seed: 42, purpose: "moments")
        let n = 100_000
        let normals = (0..<n).map { _ in s.nextNormal() }
        let mean = normals.reduce(0, +) / Double(n)
        let variance = normals.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(n)
        #expect(abs(mean) < 0.02 && abs(variance - 1) < 0.02)
        let uniforms = (0..<n).map { _ in s.nextFloat() }
        #expect(uniforms.allSatisfy { $0 >= 0 && $0 < 1 })
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[s.nextInt(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
        #expect(s.permutation(10).sorted() == Array(0..<10))
    }
}
