import CILMethods
import Testing

@Suite struct HerdingTests {
    /// Hand-worked: unit features e1, e2, and (e1+e2)/√2. The mean μ = (1+1/√2)/3·(1,1) lies
    /// on the diagonal, so the diagonal sample ranks first; then w = 2μ − d ≈ (0.431, 0.431)
    /// ties e1 and e2 and the first index (0) wins; then w = 3μ − d − e1 = (0, 1) picks e2.
    @Test func handWorkedRanking() {
        let s = 1 / 2.0.squareRoot()
        let features = Tensor(shape: [3, 2], scalars: [1.0, 0, 0, 1, s, s])
        #expect(Herding.rank(features, count: 3) == [2, 0, 1])
        #expect(Herding.rank(features, count: 1) == [2])
    }

    /// Scaling a feature does not change its rank (features are L2-normalised first).
    @Test func ranksIgnoreFeatureNorms() {
        var stream = RandomStream(seed: 3, purpose: "test.herding")
        let values = (0..<(40 * 8)).map { _ in stream.nextNormal() }
        let scaled = values.enumerated().map { $0.element * Double(1 + $0.offset / 8 % 3) }
        let a = Herding.rank(Tensor(shape: [40, 8], scalars: values), count: 10)
        #expect(a == Herding.rank(Tensor(shape: [40, 8], scalars: scaled), count: 10))
        #expect(Set(a).count == 10)
    }

    @Test func memoryPoliciesKeepTheBudget() {
        var memory = ExemplarMemory(policy: .fixedTotal(2000))
        for c in 0..<60 { memory.append(rankedIndices: Array((c * 500)..<(c * 500 + 40))) }
        #expect(memory.allExemplars(seenClasses: 50).count == 50 * 40)
        #expect(memory.allExemplars(seenClasses: 60).count == 60 * 33)   // ⌊2000/60⌋ = 33
        #expect(memory.exemplars(seenClasses: 60)[0] == Array(0..<33))    // best-ranked kept
        #expect(MemoryPolicy.perClass(20).exemplarsPerClass(seenClasses: 100) == 20)
    }
}
