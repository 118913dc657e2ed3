import Foundation
import Testing
import CILKernels

private typealias S = NormTestSupport

/// Odd sizes, a tail that is not a multiple of 16, and sizes large enough to use both threads.
private let elementwiseShapes: [[Int]] = [[3, 5, 7, 9], [1], [17], [2, 4, 4, 16], [70_001], [9, 31, 33, 16], [250, 100]]

@Suite struct ElementwiseTests {
    @Test func fastMatchesFloat64Reference() throws {
        let fast = try ComputeEngine(threads: 2, path: .fast)
        let reference = try ComputeEngine(threads: 2, path: .reference)
        var worst: [String: Double] = [:]
        for (k, shape) in elementwiseShapes.enumerated() {
            let a32 = S.random(shape, seed: UInt64(k), dtype: .float32), b32 = S.random(shape, seed: UInt64(k) + 50, dtype: .float32)
            let a = a32.converted(to: .float64), b = b32.converted(to: .float64)
            let y32 = fast.relu(a32)
            var acc32 = a32, acc = a
            fast.addInPlace(&acc32, b32)
            reference.addInPlace(&acc, b)
            let pairs: [(String, Tensor, Tensor)] = [
                ("add", fast.add(a32, b32), reference.add(a, b)),
                ("subtract", fast.subtract(a32, b32), reference.subtract(a, b)),
                ("multiply", fast.multiply(a32, b32), reference.multiply(a, b)),
                ("scale", fast.scale(a32, by: -0.3), reference.scale(a, by: -0.3)),
                ("axpby", fast.axpby(a32, alpha: 0.7, b32, beta: 0.3), reference.axpby(a, alpha: 0.7, b, beta: 0.3)),
                ("addInPlace", acc32, acc),
                ("relu", y32, reference.relu(a)),
                ("reluBackward", fast.reluBackward(b32, output: y32), reference.reluBackward(b, output: y32.converted(to: .float64))),
                ("addReLU", fast.addReLU(a32, b32), reference.addReLU(a, b)),
            ]
            for (name, f, r) in pairs {
                #expect(f.dtype == .float32 && r.dtype == .float64 && f.shape == shape && r.shape == shape, "\(name)")
                #expect(f.layout == a32.layout)
                let e = S.relativeError(f, r)
                worst[name] = max(worst[name] ?? 0, e)
                #expect(e < 1e-6, "\(name) \(shape): \(e)")
            }
            #expect(abs(fast.sum(a32) - reference.sum(a)) <= 1e-6 * a.doubles.reduce(0) { $0 + abs($1) })
        }
        for (name, e) in worst.sorted(by: { $0.key < $1.key }) { print("elementwise fast vs float64, worst max|err|/max|ref| \(name): \(e)") }
    }

    @Test func reluSemantics() throws {
        let engine = try ComputeEngine(threads: 2)
        let x = Tensor(shape: [6], scalars: [-1, 0, 2, -0.0, .nan, .infinity] as [Float])
        let y = engine.relu(x).floats
        #expect(y[0] == 0 && y[1] == 0 && y[2] == 2 && y[3] == 0 && y[4].isNaN && y[5] == .infinity)
        let dy = engine.reluBackward(Tensor(shape: [6], scalars: [1, 2, 3, 4, 5, 6] as [Float]), output: Tensor(shape: [6], scalars: y)).floats
        #expect(dy == [0, 0, 3, 0, 0, 6])
        #expect(try ComputeEngine(threads: 2, path: .reference).relu(x).floats[4].isNaN)
        #expect(engine.addReLU(Tensor(shape: [2], scalars: [1, -3] as [Float]), Tensor(shape: [2], scalars: [-0.5, 2] as [Float])).floats == [0.5, 0])
    }

    @Test func addInPlaceCopiesSharedStorage() throws {
        let engine = try ComputeEngine(threads: 2)
        let original = Tensor(filled: 1, shape: [40_000])
        var accumulator = original
        engine.addInPlace(&accumulator, Tensor(filled: 2, shape: [40_000]))
        #expect(original.floats.allSatisfy { $0 == 1 } && accumulator.floats.allSatisfy { $0 == 3 })
    }

    /// Backward rules of the elementwise ops, written with the kernels themselves, against
    /// central differences in float64 of sum(w * f(a, b)).
    @Test func finiteDifferenceGradients() throws {
        let engine = try ComputeEngine(threads: 2, path: .reference)
        let shape = [2, 3, 3, 5]
        let a = S.random(shape, seed: 1), b = S.random(shape, seed: 2), w = S.random(shape, seed: 3)
        var worst = 0.0
        func check(_ name: String, _ t: Tensor, _ analytic: Tensor, _ loss: (Tensor) -> Double) {
            let e = S.gradientError(t, analytic: analytic, loss: loss)
            print("elementwise finite differences \(name): \(e)")
            #expect(e < 1e-6, "\(name): \(e)")
            worst = max(worst, e)
        }
        let y = engine.relu(a)
        #expect(a.doubles.allSatisfy { abs($0) > 1e-4 })
        check("relu da", a, engine.reluBackward(w, output: y)) { S.sumProduct(w, engine.relu($0)) }
        let s = engine.addReLU(a, b)
        check("addReLU da", a, engine.reluBackward(w, output: s)) { S.sumProduct(w, engine.addReLU($0, b)) }
        check("addReLU db", b, engine.reluBackward(w, output: s)) { S.sumProduct(w, engine.addReLU(a, $0)) }
        check("add da", a, w) { S.sumProduct(w, engine.add($0, b)) }
        check("add db", b, w) { S.sumProduct(w, engine.add(a, $0)) }
        check("subtract db", b, engine.scale(w, by: -1)) { S.sumProduct(w, engine.subtract(a, $0)) }
        check("multiply da", a, engine.multiply(w, b)) { S.sumProduct(w, engine.multiply($0, b)) }
        check("multiply db", b, engine.multiply(w, a)) { S.sumProduct(w, engine.multiply(a, $0)) }
        check("axpby da", a, engine.scale(w, by: 0.7)) { S.sumProduct(w, engine.axpby($0, alpha: 0.7, b, beta: -1.3)) }
        check("axpby db", b, engine.scale(w, by: -1.3)) { S.sumProduct(w, engine.axpby(a, alpha: 0.7, $0, beta: -1.3)) }
        print("elementwise finite differences, worst relative error: \(worst)")
    }

    @Test func fastPathIsDeterministic() throws {
        let a = S.random([7, 17, 19, 16], seed: 5, dtype: .float32), b = S.random([7, 17, 19, 16], seed: 6, dtype: .float32)
        func digests(threads: Int) throws -> [UInt64] {
            let e = try ComputeEngine(threads: threads)
            var acc = a
            e.addInPlace(&acc, b)
            return [e.add(a, b), e.axpby(a, alpha: 0.3, b, beta: 0.9), e.addReLU(a, b), e.reluBackward(a, output: b), e.multiply(a, b), acc].map(Digest.of)
        }
        let first = try digests(threads: 2)
        #expect(try digests(threads: 2) == first)
        #expect(try digests(threads: 1) == first)
    }
}
