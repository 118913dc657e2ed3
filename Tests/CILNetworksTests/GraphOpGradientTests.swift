import CILNetworks
import Testing

/// Float64 finite-difference checks of every differentiable op as the Graph composes it
/// (the kernels are checked in CILKernelsTests; this checks the wiring of each backward).
@Suite struct GraphOpGradientTests {
    let engine = try! ComputeEngine(threads: 2)

    /// Checks d(Σ w ⊙ f(inputs))/d input_k for every input against central differences.
    func check(_ label: String, _ inputs: [Tensor], tolerance: Double = 1e-7, _ f: (Graph, [Var]) throws -> Var) throws {
        func value(_ xs: [Tensor]) throws -> (Double, Graph, [Var], Var) {
            let g = Graph(engine: engine)
            let vars = xs.map { g.variable($0) }
            let y = try f(g, vars)
            let w = randomTensor(g[y].shape, seed: 99)
            let loss = g.sum(g.multiply(y, g.constant(w)))
            return (g[loss].scalarValue, g, vars, loss)
        }
        let (_, g, vars, loss) = try value(inputs)
        try g.backward(from: loss)
        for k in inputs.indices {
            let analytic = g.gradient(of: vars[k])?.doubles ?? [Double](repeating: 0, count: inputs[k].count)
            var numeric: [Double] = []
            for i in 0..<inputs[k].count {
                var plus = inputs, minus = inputs
                plus[k].withUnsafeMutableBufferPointer(as: Double.self) { $0[i] += 1e-6 }
                minus[k].withUnsafeMutableBufferPointer(as: Double.self) { $0[i] -= 1e-6 }
                numeric.append((try value(plus).0 - value(minus).0) / 2e-6)
            }
            let error = relativeError(analytic, numeric)
            #expect(error < tolerance, "\(label) input \(k): relative error \(error)")
        }
    }

    @Test func matmulInAllTranspositions() throws {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor(ta ? [4, 3] : [3, 4], seed: 1), b = randomTensor(tb ? [5, 4] : [4, 5], seed: 2)
            try check("matmul \(ta) \(tb)", [a, b]) { g, x in g.matmul(x[0], x[1], transposeA: ta, transposeB: tb) }
        }
    }

    @Test func headsAndNormalisation() throws {
        let x = randomTensor([3, 4], seed: 3), w = randomTensor([5, 4], seed: 4), b = randomTensor([5], seed: 5)
        try check("linear", [x, w, b]) { g, v in g.linear(v[0], weight: v[1], bias: v[2]) }
        try check("cosine", [x, w]) { g, v in g.cosineSimilarity(v[0], v[1]) }
        let sigma = Tensor(shape: [1], scalars: [1.7])
        try check("scale by learnable scalar", [x, sigma]) { g, v in g.scale(v[0], byScalar: v[1]) }
        try check("concatenate rows", [x, w]) { g, v in concatenateRows(g, [v[0], v[1]]) }
    }

    @Test func aggregationOfBranches() throws {
        let s = randomTensor([2, 3, 3, 4], seed: 6, layout: .nhwc), p = randomTensor([2, 3, 3, 4], seed: 7, layout: .nhwc)
        try check("aggregate", [s, p, Tensor(shape: [1], scalars: [0.37])]) { g, v in g.aggregate(stable: v[0], plastic: v[1], alpha: v[2]) }
    }

    /// A stage in the blocked layout: reorder in, convolution, batch norm with the join and
    /// ReLU, reorder out; every gradient crosses a layout change.
    @Test func blockedActivations() throws {
        let x = randomTensor([2, 3, 3, 32], seed: 20, layout: .nhwc), w = randomTensor([32, 32, 1, 1], seed: 21, layout: .oihw)
        let gamma = randomTensor([32], seed: 22), beta = randomTensor([32], seed: 23), r = randomTensor([2, 3, 3, 32], seed: 24, layout: .nhwc)
        try check("conv, batch norm and join in nChw16c", [x, w, gamma, beta, r], tolerance: 1e-6) { g, v in
            let y = try g.conv2d(g.reordered(v[0], to: .nChw16c), weight: v[1], stride: 1, padding: 0, outputLayout: .nChw16c)
            #expect(g[y].layout == .nChw16c)
            let z = try g.batchNormAddTraining(y, gamma: v[2], beta: v[3], residual: g.reordered(v[4], to: .nChw16c), epsilon: 1e-5, relu: true)
            return try g.reordered(z.output, to: .nhwc)
        }
    }

    @Test func lossesAndReductions() throws {
        let logits = randomTensor([4, 6], seed: 8, scale: 2), teacher = randomTensor([4, 6], seed: 9, scale: 2)
        try check("distillation KL", [logits, teacher]) { g, v in g.distillationKL(student: v[0], teacher: v[1], temperature: 2) }
        try check("cross-entropy", [logits]) { g, v in g.crossEntropy(v[0], labels: [0, 5, 3, 3]) }
        try check("softmax", [logits]) { g, v in g.softmax(v[0]) }
        let targets = Tensor(shape: [4, 6], scalars: teacher.doubles.map { ($0 + 2) / 4 })
        try check("bce with logits", [logits, targets]) { g, v in g.binaryCrossEntropyWithLogits(v[0], targets: v[1]) }
        let x = randomTensor([3, 4, 5], seed: 10)
        for axis in 0..<3 {
            try check("sum axis \(axis)", [x]) { g, v in g.sum(v[0], axis: axis) }
            try check("mean axis \(axis)", [x]) { g, v in g.mean(v[0], axis: axis) }
            try check("max axis \(axis)", [x]) { g, v in g.max(v[0], axis: axis) }
        }
        try check("mean of all", [x]) { g, v in g.mean(v[0]) }
        try check("reshape then square", [x]) { g, v in g.square(g.reshape(v[0], [12, 5])) }
        try check("subtract, multiply", [x, randomTensor([3, 4, 5], seed: 11)]) { g, v in g.multiply(g.subtract(v[0], v[1]), v[0]) }
    }

    @Test func convolutionBatchNormAndPooling() throws {
        let x = randomTensor([2, 5, 5, 3], seed: 12, layout: .nhwc)
        let w = randomTensor([4, 3, 3, 3], seed: 13, layout: .oihw)
        let s = randomTensor([4, 3, 1, 1], seed: 14, layout: .oihw)
        try check("scaled conv stride 2", [x, w, s]) { g, v in try g.conv2d(v[0], weight: g.scaleKernels(v[1], scales: v[2]), stride: 2, padding: 1) }
        let gamma = randomTensor([3], seed: 15), beta = randomTensor([3], seed: 16)
        for relu in [false, true] {
            try check("batch norm relu=\(relu)", [x, gamma, beta]) { g, v in try g.batchNormTraining(v[0], gamma: v[1], beta: v[2], epsilon: 1e-5, fusedReLU: relu).output }
        }
        let residual = randomTensor([2, 5, 5, 3], seed: 19, layout: .nhwc)
        for relu in [false, true] {
            try check("batch norm + residual relu=\(relu)", [x, gamma, beta, residual]) { g, v in
                try g.batchNormAddTraining(v[0], gamma: v[1], beta: v[2], residual: v[3], epsilon: 1e-5, relu: relu).output
            }
        }
        let mean = randomTensor([3], seed: 17), variance = Tensor(shape: [3], scalars: [0.5, 1.5, 2.0])
        try check("batch norm inference", [x, gamma, beta]) { g, v in try g.batchNormInference(v[0], gamma: v[1], beta: v[2], runningMean: mean, runningVariance: variance, epsilon: 1e-5) }
        try check("max pool", [x]) { g, v in try g.maxPool2d(v[0], kernel: 3, stride: 2, padding: 1) }
        try check("global average pool", [x]) { g, v in g.globalAveragePool(v[0]) }
        try check("relu, add+relu", [x, randomTensor([2, 5, 5, 3], seed: 18, layout: .nhwc)]) { g, v in g.addReLU(g.relu(v[0]), v[1]) }
    }
}
