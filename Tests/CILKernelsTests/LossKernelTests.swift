import CILKernels
import Testing

/// Float64 finite-difference checks of the small-tensor kernels, and fast-vs-reference
/// comparisons of the GEMM.
@Suite struct LossKernelTests {
    let engine = try! ComputeEngine(threads: 2)

    @Test func matmulFastMatchesReferenceAllTransposes() {
        for (ta, tb) in [(false, false), (false, true), (true, false), (true, true)] {
            let a = randomTensor(ta ? [37, 13] : [13, 37], seed: 1, dtype: .float32)
            let b = randomTensor(tb ? [29, 37] : [37, 29], seed: 2, dtype: .float32)
            let fast = engine.matmul(a, b, transposeA: ta, transposeB: tb)
            let exact = engine.matmul(a.converted(to: .float64), b.converted(to: .float64), transposeA: ta, transposeB: tb)
            #expect(fast.shape == [13, 29])
            #expect(relativeError(fast.doubles, exact.doubles) < 1e-6)
        }
    }

    @Test func logSoftmaxGradient() {
        let x = randomTensor([4, 7], seed: 3, scale: 3), w = randomTensor([4, 7], seed: 4)
        let y = engine.logSoftmax(x)
        let analytic = engine.logSoftmaxBackward(w, output: y).doubles
        let numeric = numericalGradient(x) { weightedSum(engine.logSoftmax($0), w) }
        let error = relativeError(analytic, numeric)
        print("logSoftmax gradient relative error \(error)")
        #expect(error < 1e-7)
        // Rows of softmax sum to one.
        let p = engine.unary(.exp, y).doubles
        #expect(abs(p[0..<7].reduce(0, +) - 1) < 1e-12)
    }

    @Test func crossEntropyValueAndGradient() {
        // Hand value: logits [0, ln 3] with label 1 → −log(3/4).
        let (loss, _) = engine.softmaxCrossEntropy(Tensor(shape: [1, 2], scalars: [0.0, Double.log(3)]), labels: [1])
        #expect(abs(loss.scalarValue - (-Double.log(0.75))) < 1e-12)
        let x = randomTensor([5, 6], seed: 5, scale: 2)
        let labels: [Int32] = [0, 5, 2, 2, 3]
        let (_, probabilities) = engine.softmaxCrossEntropy(x, labels: labels)
        let analytic = engine.softmaxCrossEntropyBackward(probabilities: probabilities, labels: labels, gradLoss: 1).doubles
        let numeric = numericalGradient(x) { engine.softmaxCrossEntropy($0, labels: labels).loss.scalarValue }
        #expect(relativeError(analytic, numeric) < 1e-7)
    }

    @Test func binaryCrossEntropyGradient() {
        let x = randomTensor([3, 5], seed: 6, scale: 4), t = randomTensor([3, 5], seed: 7), w = randomTensor([3, 5], seed: 8)
        let probabilities = Tensor(shape: t.shape, scalars: t.doubles.map { ($0 + 1) / 2 })
        let grads = engine.binaryCrossEntropyWithLogitsBackward(w, logits: x, targets: probabilities)
        let numericX = numericalGradient(x) { weightedSum(engine.binaryCrossEntropyWithLogits($0, targets: probabilities), w) }
        let numericT = numericalGradient(probabilities) { weightedSum(engine.binaryCrossEntropyWithLogits(x, targets: $0), w) }
        #expect(relativeError(grads.logits.doubles, numericX) < 1e-7)
        #expect(relativeError(grads.targets.doubles, numericT) < 1e-7)
        // Hand value: x = 0, t = 1 → log 2.
        #expect(abs(engine.binaryCrossEntropyWithLogits(Tensor(shape: [1], scalars: [0.0]), targets: Tensor(shape: [1], scalars: [1.0])).scalarValue - Double.log(2)) < 1e-12)
    }

    @Test func unaryGradients() {
        let positive = Tensor(shape: [2, 5], scalars: randomTensor([2, 5], seed: 9).doubles.map { abs($0) + 0.2 })
        let w = randomTensor([2, 5], seed: 10)
        let functions: [UnaryFunction] = [.square, .sqrt, .exp, .log, .abs, .negate, .clamp(min: 0.3, max: 0.8)]
        for f in functions {
            let y = engine.unary(f, positive)
            let analytic = engine.unaryBackward(f, gradOutput: w, input: positive, output: y).doubles
            let numeric = numericalGradient(positive) { weightedSum(engine.unary(f, $0), w) }
            #expect(relativeError(analytic, numeric) < 1e-6, "\(f)")
        }
    }

    @Test func l2NormalizeRowsGradient() {
        let x = randomTensor([4, 9], seed: 11), w = randomTensor([4, 9], seed: 12)
        let (y, norms) = engine.l2NormalizeRows(x)
        let analytic = engine.l2NormalizeRowsBackward(w, output: y, norms: norms).doubles
        let numeric = numericalGradient(x) { weightedSum(engine.l2NormalizeRows($0).output, w) }
        #expect(relativeError(analytic, numeric) < 1e-7)
        let row = Array(y.doubles[0..<9])
        #expect(abs(row.map { $0 * $0 }.reduce(0, +) - 1) < 1e-12)
    }

    @Test func reductionsAndBroadcastAreAdjoint() {
        let x = randomTensor([3, 4, 5], seed: 13)
        for axis in 0..<3 {
            let w = randomTensor(engine.reduceSum(x, axis: axis).shape, seed: 14)
            let analytic = engine.broadcast(w, axis: axis, count: x.shape[axis]).doubles
            let numeric = numericalGradient(x) { weightedSum(engine.reduceSum($0, axis: axis), w) }
            #expect(relativeError(analytic, numeric) < 1e-8)
            let (_, indices) = engine.reduceMax(x, axis: axis)
            let maxGrad = engine.scatterMax(w, indices: indices, axis: axis, size: x.shape[axis]).doubles
            let maxNumeric = numericalGradient(x) { weightedSum(engine.reduceMax($0, axis: axis).values, w) }
            #expect(relativeError(maxGrad, maxNumeric) < 1e-8)
        }
        #expect(engine.sumAll(Tensor(shape: [2, 2], scalars: [1.0, 2, 3, 4])).scalarValue == 10)
    }

    @Test func kernelScalesGradient() {
        let weight = randomTensor([3, 2, 3, 3], seed: 15, layout: .oihw)
        let scales = randomTensor([3, 2, 1, 1], seed: 16, layout: .oihw)
        let w = randomTensor([3, 2, 3, 3], seed: 17, layout: .oihw)
        let analytic = engine.scaleKernelsBackwardScales(w, weight: weight).doubles
        let numeric = numericalGradient(scales) { weightedSum(engine.scaleKernels(weight, scales: $0), w) }
        #expect(relativeError(analytic, numeric) < 1e-8)
    }
}
