import CILKernels
import Testing

@Suite struct DigestTests {
    @Test func digestSeesEveryBitShapeAndLayout() {
        let values = (0..<1000).map { Float($0) * 0.25 }
        let t = Tensor(shape: [10, 100], scalars: values)
        #expect(Digest.of(t) == Digest.of(Tensor(shape: [10, 100], scalars: values)))
        var flipped = values
        flipped[999] = Float(bitPattern: flipped[999].bitPattern ^ 1)
        #expect(Digest.of(t) != Digest.of(Tensor(shape: [10, 100], scalars: flipped)))
        #expect(Digest.of(t) != Digest.of(t.reshaped([100, 10])))
        #expect(Digest.of(t) != Digest.of(t.converted(to: .float64)))
        #expect(Digest.fnv1a("") == 0xcbf2_9ce4_8422_2325)
        #expect(Digest.fnv1a("a") == 0xaf63_dc4c_8601_ec8c)
    }
}
