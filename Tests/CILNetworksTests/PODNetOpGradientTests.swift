import CILNetworks
import Testing

/// Float64 finite-difference checks of the ops PODNet adds: the LSC head's class scores,
/// the NCA loss in both forms, per-row norms and column concatenation.
extension GraphOpGradientTests {
    @Test func localSimilarityScores() throws {
        let x = randomTensor([3, 4], seed: 31), proxies = randomTensor([6, 4], seed: 32)
        for gamma in [1.0, 2.5] {
            try check("lsc scores γ=\(gamma)", [x, proxies]) { g, v in
                LocalSimilarityHead.classScores(g, features: v[0], proxies: v[1], proxiesPerClass: 3, gamma: gamma)
            }
        }
    }

    @Test func ncaLossBothForms() throws {
        let scores = randomTensor([4, 5], seed: 33, scale: 2), eta = Tensor(shape: [1], scalars: [1.7])
        let labels: [Int32] = [0, 4, 2, 2]
        for form in [NCAForm.reference, .paper] {
            try check("nca \(form)", [scores, eta]) { g, v in g.ncaLoss(v[0], scale: v[1], labels: labels, margin: 0.6, form: form) }
        }
    }

    @Test func rowNormsAndColumnConcatenation() throws {
        let a = randomTensor([3, 4], seed: 34), b = randomTensor([3, 2], seed: 35)
        try check("row norms", [a]) { g, v in g.rowNorms(v[0]) }
        try check("concatenate columns", [a, b]) { g, v in g.concatenateColumns([v[0], v[1]]) }
        // A zero row has a zero (not NaN) gradient, as PyTorch's norm subgradient.
        let g = Graph(engine: engine)
        let zero = g.variable(Tensor(zeros: [2, 3], dtype: .float64))
        try g.backward(from: g.sum(g.rowNorms(zero)))
        #expect(g.gradient(of: zero)?.doubles == [Double](repeating: 0, count: 6))
    }
}
