// Elementwise kernels on same-shape tensors of any rank and layout (both operands blocked
// nChw16c or neither). The output keeps the first operand's shape and layout. Fast path:
// SIMD16 loops over ~64 KB chunks, split over the engine's threads for tensors large
// enough to pay for it (no reductions, so the chunking cannot change any bit). Reference
// path: one float64 expression per element, rounded to the element type.
//
// These kernels cannot fail on valid programs; a shape or dtype mismatch is a programming
// error in the caller and stops with a precondition failure.

@inline(__always)
func load16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func load16(_ p: UnsafeMutablePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always)
func store16(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

/// v where keep > 0, else +0 (NaN in `keep` counts as not positive). An AND with the
/// comparison mask: Swift's `replacing(with:where:)` lowers to twice the instructions on
/// the baseline x86-64 target this package compiles for.
@inline(__always)
func keepWherePositive(_ v: SIMD16<Float>, _ keep: SIMD16<Float>) -> SIMD16<Float> {
    let mask = unsafeBitCast(keep .> 0, to: SIMD16<Int32>.self)
    return unsafeBitCast(unsafeBitCast(v, to: SIMD16<Int32>.self) & mask, to: SIMD16<Float>.self)
}

/// max(v, 0) that keeps NaN (as PyTorch's ReLU does): clears the lanes where v < 0.
@inline(__always)
func zeroWhereNegative(_ v: SIMD16<Float>) -> SIMD16<Float> {
    let negative = unsafeBitCast(v .< 0, to: SIMD16<Int32>.self)
    return unsafeBitCast(unsafeBitCast(v, to: SIMD16<Int32>.self) & ~negative, to: SIMD16<Float>.self)
}

/// Elements per chunk (a multiple of 16) and the size below which one thread is faster
/// than waking the second.
private let elementwiseGrain = 16384
let parallelThreshold = 32768

@inline(__always)
private func fastMap(_ n: Int, threads: Int, _ out: UnsafeMutablePointer<Float>, _ a: UnsafeMutablePointer<Float>, _ b: UnsafeMutablePointer<Float>,
                     vector: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, scalar: (Float, Float) -> Float) {
    parallelChunks(chunkCount(n, grain: elementwiseGrain), threads: n >= parallelThreshold ? threads : 1) { range in
        let lo = range.lowerBound * elementwiseGrain, hi = min(n, range.upperBound * elementwiseGrain)
        var i = lo
        while i + 16 <= hi {
            store16(vector(load16(a + i), load16(b + i)), out + i)
            i += 16
        }
        while i < hi {
            out[i] = scalar(a[i], b[i])
            i += 1
        }
    }
}

private func referenceMap<T: BinaryFloatingPoint>(_: T.Type, _ n: Int, _ out: Tensor, _ a: Tensor, _ b: Tensor, _ f: (Double, Double) -> Double) {
    let o = typedPointer(out, T.self), p = typedPointer(a, T.self), q = typedPointer(b, T.self)
    for i in 0..<n { o[i] = T(f(Double(p[i]), Double(q[i]))) }
}

extension ComputeEngine {
    @inline(__always)
    private func elementwise(_ kind: String, _ a: Tensor, _ b: Tensor?, into existing: UnsafeMutablePointer<Float>? = nil,
                             attributes: @autoclosure () -> [String: Double] = [:], reference: (Double, Double) -> Double,
                             vector: (SIMD16<Float>, SIMD16<Float>) -> SIMD16<Float>, scalar: (Float, Float) -> Float) -> Tensor {
        if let b {
            precondition(a.shape == b.shape && a.dtype == b.dtype && (a.layout == .nChw16c) == (b.layout == .nChw16c),
                         "\(kind): operands \(a.dtype) \(a.layout) \(a.shape) and \(b.dtype) \(b.layout) \(b.shape) differ")
        }
        let other = b ?? a
        let out = Tensor(uninitialized: a.shape, dtype: a.dtype, layout: a.layout)
        if usesReference(a.dtype) {
            switch a.dtype {
            case .float32: referenceMap(Float.self, a.count, out, a, other, reference)
            case .float64: referenceMap(Double.self, a.count, out, a, other, reference)
            }
        } else {
            fastMap(a.count, threads: threads, out.floatPointer, a.floatPointer, other.floatPointer, vector: vector, scalar: scalar)
        }
        record(kind, inputs: b.map { [a, $0] } ?? [a], output: out, attributes: attributes())
        return out
    }

    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        elementwise("add", a, b, reference: { $0 + $1 }, vector: { $0 + $1 }, scalar: { $0 + $1 })
    }

    public func subtract(_ a: Tensor, _ b: Tensor) -> Tensor {
        elementwise("subtract", a, b, reference: { $0 - $1 }, vector: { $0 - $1 }, scalar: { $0 - $1 })
    }

    public func multiply(_ a: Tensor, _ b: Tensor) -> Tensor {
        elementwise("multiply", a, b, reference: { $0 * $1 }, vector: { $0 * $1 }, scalar: { $0 * $1 })
    }

    /// s * a.
    public func scale(_ a: Tensor, by s: Double) -> Tensor {
        let f = Float(s)
        return elementwise("scale", a, nil, attributes: ["scale": s], reference: { v, _ in s * v }, vector: { v, _ in f * v }, scalar: { v, _ in f * v })
    }

    /// alpha * a + beta * b.
    public func axpby(_ a: Tensor, alpha: Double, _ b: Tensor, beta: Double) -> Tensor {
        let fa = Float(alpha), fb = Float(beta)
        return elementwise("axpby", a, b, attributes: ["alpha": alpha, "beta": beta], reference: { alpha * $0 + beta * $1 },
                           vector: { fa * $0 + fb * $1 }, scalar: { fa * $0 + fb * $1 })
    }

    /// max(x, 0); NaN stays NaN.
    public func relu(_ x: Tensor) -> Tensor {
        elementwise("relu", x, nil, reference: { v, _ in v < 0 ? 0 : v },
                    vector: { v, _ in zeroWhereNegative(v) }, scalar: { v, _ in v < 0 ? 0 : v })
    }

    /// dy * (y > 0), with y the ReLU's output.
    public func reluBackward(_ gradOutput: Tensor, output: Tensor) -> Tensor {
        elementwise("reluBackward", gradOutput, output, reference: { $1 > 0 ? $0 : 0 },
                    vector: { d, y in keepWherePositive(d, y) }, scalar: { $1 > 0 ? $0 : 0 })
    }

    /// relu(a + b): the end of a residual block.
    public func addReLU(_ a: Tensor, _ b: Tensor) -> Tensor {
        elementwise("addReLU", a, b, reference: { let s = $0 + $1; return s < 0 ? 0 : s },
                    vector: { zeroWhereNegative($0 + $1) },
                    scalar: { let s = $0 + $1; return s < 0 ? 0 : s })
    }

    /// accumulator += x, in place (copies the accumulator first only if its storage is shared).
    public func addInPlace(_ accumulator: inout Tensor, _ x: Tensor) {
        precondition(accumulator.shape == x.shape && accumulator.dtype == x.dtype && (accumulator.layout == .nChw16c) == (x.layout == .nChw16c),
                     "addInPlace: accumulator \(accumulator.dtype) \(accumulator.shape) and \(x.dtype) \(x.shape) differ")
        let n = x.count
        if usesReference(x.dtype) {
            switch x.dtype {
            case .float32: accumulator.withUnsafeMutableBufferPointer(as: Float.self) { p in
                let q = typedPointer(x, Float.self)
                for i in 0..<n { p[i] = Float(Double(p[i]) + Double(q[i])) }
            }
            case .float64: accumulator.withUnsafeMutableBufferPointer(as: Double.self) { p in
                let q = typedPointer(x, Double.self)
                for i in 0..<n { p[i] += q[i] }
            }
            }
        } else {
            let threads = self.threads
            accumulator.withUnsafeMutableBufferPointer(as: Float.self) { p in
                guard let base = p.baseAddress else { return }
                fastMap(n, threads: threads, base, base, x.floatPointer, vector: { $0 + $1 }, scalar: { $0 + $1 })
            }
        }
        record("addInPlace", inputs: [x], output: accumulator)
    }

    /// Sum of all elements, accumulated in float64 (for losses, norms and tests).
    public func sum(_ x: Tensor) -> Double {
        var total = 0.0
        switch x.dtype {
        case .float32:
            let p = x.floatPointer
            // Float partial sums over 16 lanes per 4K elements, then float64: bounded error,
            // fixed order.
            var i = 0
            while i < x.count {
                let end = min(x.count, i + 4096)
                var acc = SIMD16<Float>()
                while i + 16 <= end { acc += load16(p + i); i += 16 }
                var part = 0.0
                for l in 0..<16 { part += Double(acc[l]) }
                while i < end { part += Double(p[i]); i += 1 }
                total += part
            }
        case .float64:
            let p = x.doublePointer
            for i in 0..<x.count { total += p[i] }
        }
        let out = Tensor(doubles: [total], dtype: x.dtype)
        record("sum", inputs: [x], output: out)
        return total
    }
}
