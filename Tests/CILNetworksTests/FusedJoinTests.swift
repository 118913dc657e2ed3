import CILNetworks
import Testing

/// The fused end of a residual block (`Graph.batchNormAddTraining`) must give the bits of
/// the two ops it replaces, batch norm then `add` / `addReLU`, forward and backward: it
/// exists for speed only, and stored baselines rely on it not moving a bit.
@Suite struct FusedJoinTests {
    @Test(arguments: [16, 19, 64], [false, true])
    func sameBitsAsBatchNormThenJoin(channels: Int, relu: Bool) throws {
        let engine = try ComputeEngine(threads: 2)
        let shape = [3, 6, 5, channels]
        let x = randomTensor(shape, seed: 31, dtype: .float32, layout: .nhwc, scale: 3)
        let residual = randomTensor(shape, seed: 32, dtype: .float32, layout: .nhwc)
        let gamma = randomTensor([channels], seed: 33, dtype: .float32), beta = randomTensor([channels], seed: 34, dtype: .float32)
        let weight = randomTensor(shape, seed: 35, dtype: .float32, layout: .nhwc)

        func run(fused: Bool) throws -> [Tensor] {
            let g = Graph(engine: engine)
            let vars = [x, gamma, beta, residual].map { g.variable($0) }
            let y: Var
            if fused {
                y = try g.batchNormAddTraining(vars[0], gamma: vars[1], beta: vars[2], residual: vars[3], epsilon: 1e-5, relu: relu).output
            } else {
                let h = try g.batchNormTraining(vars[0], gamma: vars[1], beta: vars[2], epsilon: 1e-5, fusedReLU: false).output
                y = relu ? g.addReLU(h, vars[3]) : g.add(h, vars[3])
            }
            let loss = g.sum(g.multiply(y, g.constant(weight)))
            try g.backward(from: loss)
            return [g[y]] + vars.map { g.gradient(of: $0)! }
        }
        let fused = try run(fused: true), separate = try run(fused: false)
        for (name, (a, b)) in zip(["output", "dx", "dgamma", "dbeta", "dresidual"], zip(fused, separate)) {
            #expect(a.floats == b.floats, "\(name) differs between the fused join and batch norm + join (C=\(channels), relu=\(relu))")
        }
    }
}
