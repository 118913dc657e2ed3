import CILNetworks
import Testing

/// Float64 finite-difference checks of the selection ops, as GraphOpGradientTests does for
/// the other ops, plus their forward values.
@Suite struct SelectionOpGradientTests {
    let engine = try! ComputeEngine(threads: 1)

    func check(_ label: String, _ input: Tensor, _ f: (Graph, Var) -> Var) {
        func value(_ x: Tensor) -> (Double, Graph, Var, Var) {
            let g = Graph(engine: engine)
            let v = g.variable(x)
            let y = f(g, v)
            let loss = g.sum(g.multiply(y, g.constant(randomTensor(g[y].shape, seed: 99))))
            return (g[loss].scalarValue, g, v, loss)
        }
        let (_, g, v, loss) = value(input)
        try? g.backward(from: loss)
        let analytic = g.gradient(of: v)?.doubles ?? []
        var numeric: [Double] = []
        for i in 0..<input.count {
            var plus = input, minus = input
            plus.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] += 1e-6 }
            minus.withUnsafeMutableBufferPointer(as: Double.self) { $0[i] -= 1e-6 }
            numeric.append((value(plus).0 - value(minus).0) / 2e-6)
        }
        #expect(analytic.count == numeric.count && relativeError(analytic, numeric) < 1e-7, "\(label)")
    }

    @Test func columnsAndGatherGradients() {
        let x = randomTensor([4, 6], seed: 1)
        check("columns 0..<2", x) { g, v in g.columns(v, 0..<2) }
        check("columns 2..<6", x) { g, v in g.columns(v, 2..<6) }
        // A repeated entry (row 1, column 3) must receive both gradients.
        check("gather", x) { g, v in g.gather(v, rows: [0, 1, 1, 3], columns: [5, 3, 3, 0]) }
        check("gather then square", x) { g, v in g.square(g.gather(v, rows: [2, 0], columns: [1, 4])) }
    }

    @Test func forwardValues() {
        let g = Graph(engine: engine)
        let x = g.constant(Tensor(shape: [2, 3], scalars: [1.0, 2, 3, 4, 5, 6]))
        #expect(g[g.columns(x, 1..<3)].doubles == [2, 3, 5, 6])
        #expect(g[g.gather(x, rows: [1, 0], columns: [0, 2])].doubles == [4, 3])
    }
}
