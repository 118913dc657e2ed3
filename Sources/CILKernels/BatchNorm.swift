// Batch normalisation over the channel axis. A tensor is seen as rows (pixels) x channels:
// NHWC [N,H,W,C] and plain [N,C] keep each row's channels contiguous; nChw16c (the
// Winograd engine's blocked layout, BlockedLayout.swift) keeps 16 channels of consecutive
// pixels contiguous, so a row's 16-channel column block sits at a different place. The
// kernels walk every 16-channel column block row by row in the same order in all layouts,
// so a blocked tensor gets the same bits as its NHWC copy.
//
// Fast float32 path: hand-written SIMD16 loops split into shape-determined chunks (see
// ParallelFor.swift). Statistics: each chunk (about 8K elements, cache resident) gets an
// exact-in-spirit two-pass mean and centred sum of squares in float32, and the chunks are
// merged in chunk order with Chan's pairwise formula in float64. This reads the activation
// from memory once, avoids the E[x^2]-E[x]^2 cancellation, and gives the same bits for
// any thread count. Reference path: plain loops in float64 accumulators, generic over the
// element type.
import Foundation

/// Batch statistics of a training-mode forward pass, needed by its backward pass.
/// Each tensor has shape [C] and the input's dtype; `variance` is the biased batch variance
/// and `inverseStd` = 1/sqrt(variance + epsilon).
public struct BatchNormStatistics: Sendable {
    public var mean: Tensor
    public var inverseStd: Tensor
    public var variance: Tensor

    public init(mean: Tensor, inverseStd: Tensor, variance: Tensor) {
        self.mean = mean
        self.inverseStd = inverseStd
        self.variance = variance
    }
}

/// A tensor seen as `rows` x `channels`: channel innermost, or nChw16c.
struct ChannelGeometry {
    let rows: Int
    let channels: Int
    /// nChw16c only: the rows (pixels) of one image; 0 for channel-innermost layouts.
    let imageRows: Int
    var count: Int { rows * channels }
    var blocked: Bool { imageRows > 0 }
    /// Elements from one row to the next within a column block (and within an image).
    var rowStride: Int { blocked ? 16 : channels }

    init(_ x: Tensor, _ name: String) throws {
        if x.rank == 4 && (x.layout == .nhwc || x.layout == .nChw16c) {
            rows = x.shape[0] * x.shape[1] * x.shape[2]
            channels = x.shape[3]
            imageRows = x.layout == .nChw16c ? x.shape[1] * x.shape[2] : 0
            if blocked && (channels % 16 != 0 || imageRows == 0) {
                throw KernelError.invalidArgument("\(name) in nChw16c needs a multiple of 16 channels and pixels, got \(x.shape)")
            }
        } else if x.rank == 2 && x.layout == .plain {
            rows = x.shape[0]
            channels = x.shape[1]
            imageRows = 0
        } else {
            throw KernelError.invalidArgument("\(name) must be NHWC [N,H,W,C], nChw16c or plain [N,C], got \(x.layout) \(x.shape)")
        }
        if channels < 1 { throw KernelError.invalidArgument("\(name) has no channels: \(x.shape)") }
    }

    /// Element index of channel `c` in row `r`.
    @inline(__always)
    func offset(row r: Int, channel c: Int) -> Int {
        guard blocked else { return r * channels + c }
        let image = r / imageRows
        return ((image * (channels / 16) + c / 16) * imageRows + r - image * imageRows) * 16 + c % 16
    }

    /// Calls `body(offset, count)` for the runs of `rows` in which column `c` (a multiple of
    /// 16 when blocked) steps by `rowStride`: all of them at once when channel-innermost,
    /// image by image when blocked. Rows come in order.
    @inline(__always)
    func forEachRun(_ rows: Range<Int>, column c: Int, _ body: (Int, Int) -> Void) {
        guard blocked else {
            body(rows.lowerBound * channels + c, rows.count)
            return
        }
        var r = rows.lowerBound
        while r < rows.upperBound {
            let n = min(rows.upperBound, (r / imageRows + 1) * imageRows) - r
            body(offset(row: r, channel: c), n)
            r += n
        }
    }

    /// Shape-determined chunking of the rows: about 8K elements (32 KB of float32) each, so
    /// a chunk stays in L1/L2 across the two passes of the statistics.
    var rowsPerChunk: Int { max(1, 8192 / channels) }
    var chunks: Int { chunkCount(rows, grain: rowsPerChunk) }
    func rowRange(ofChunk k: Int) -> Range<Int> { (k * rowsPerChunk)..<min(rows, (k + 1) * rowsPerChunk) }
}

func checkChannelVector(_ v: Tensor, _ name: String, channels: Int, dtype: DType) throws {
    if v.count != channels || v.rank > 1 && v.shape.dropLast().contains(where: { $0 != 1 }) {
        throw KernelError.invalidArgument("\(name) must have \(channels) elements, got shape \(v.shape)")
    }
    if v.dtype != dtype { throw KernelError.invalidArgument("\(name) is \(v.dtype), input is \(dtype)") }
}

func checkSameShape(_ a: Tensor, _ aName: String, _ b: Tensor, _ bName: String) throws {
    if a.shape != b.shape || a.dtype != b.dtype || (a.layout == .nChw16c) != (b.layout == .nChw16c) {
        throw KernelError.invalidArgument("\(bName) \(b.dtype) \(b.layout) \(b.shape) does not match \(aName) \(a.dtype) \(a.layout) \(a.shape)")
    }
}

private func checkEpsilon(_ epsilon: Double) throws {
    if !(epsilon >= 0 && epsilon.isFinite) { throw KernelError.invalidArgument("epsilon must be finite and >= 0, got \(epsilon)") }
}

@inline(__always)
func typedPointer<T>(_ t: Tensor, _: T.Type) -> UnsafeMutablePointer<T> {
    t.storage.raw.assumingMemoryBound(to: T.self)
}

extension ComputeEngine {
    // MARK: Public API

    /// Training mode: normalise with batch statistics (biased variance), y = gamma * xhat + beta.
    public func batchNormTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Double = 1e-5) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let r = try bnTrainingForward(x, gamma: gamma, beta: beta, epsilon: epsilon, relu: false)
        record("batchNormTraining", inputs: [x, gamma, beta], output: r.output, attributes: ["epsilon": epsilon])
        return r
    }

    /// ReLU(batchNormTraining(x)), in the same two passes over memory.
    public func batchNormReLUTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Double = 1e-5) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let r = try bnTrainingForward(x, gamma: gamma, beta: beta, epsilon: epsilon, relu: true)
        record("batchNormReLUTraining", inputs: [x, gamma, beta], output: r.output, attributes: ["epsilon": epsilon])
        return r
    }

    /// [ReLU](batchNormTraining(x) + residual): the last batch norm of a residual block and
    /// the block's join, in one pass after the statistics instead of two. Same bits as
    /// `batchNormTraining` followed by `add` or `addReLU`; its backward is theirs (the
    /// join's gradient, masked by the output for ReLU, feeds `batchNormTrainingBackward`).
    public func batchNormAddTraining(_ x: Tensor, gamma: Tensor, beta: Tensor, residual: Tensor, relu: Bool,
                                     epsilon: Double = 1e-5) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        try checkSameShape(x, "input", residual, "residual")
        let r = try bnTrainingForward(x, gamma: gamma, beta: beta, epsilon: epsilon, relu: relu, residual: residual)
        record(relu ? "batchNormAddReLUTraining" : "batchNormAddTraining", inputs: [x, gamma, beta, residual], output: r.output,
               attributes: ["epsilon": epsilon])
        return r
    }

    /// Returns dx, dgamma, dbeta for `batchNormTraining`.
    public func batchNormTrainingBackward(_ gradOutput: Tensor, input x: Tensor, gamma: Tensor, statistics: BatchNormStatistics) throws -> (gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor) {
        let r = try bnTrainingBackward(gradOutput, x: x, y: nil, gamma: gamma, statistics: statistics)
        record("batchNormTrainingBackward", inputs: [gradOutput, x, gamma, statistics.mean, statistics.inverseStd], output: r.gradInput)
        return r
    }

    /// Backward of `batchNormReLUTraining`; `y` is its output (the ReLU mask is y > 0).
    public func batchNormReLUTrainingBackward(_ gradOutput: Tensor, input x: Tensor, output y: Tensor, gamma: Tensor, statistics: BatchNormStatistics) throws -> (gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor) {
        let r = try bnTrainingBackward(gradOutput, x: x, y: y, gamma: gamma, statistics: statistics)
        record("batchNormReLUTrainingBackward", inputs: [gradOutput, x, y, gamma, statistics.mean, statistics.inverseStd], output: r.gradInput)
        return r
    }

    /// Eval mode: y = gamma * (x - runningMean) / sqrt(runningVariance + epsilon) + beta, with
    /// the running variance used as stored (PyTorch keeps it unbiased).
    public func batchNormInference(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVariance: Tensor, epsilon: Double = 1e-5) throws -> Tensor {
        let g = try ChannelGeometry(x, "batchNormInference input")
        try checkEpsilon(epsilon)
        for (v, name) in [(gamma, "gamma"), (beta, "beta"), (runningMean, "runningMean"), (runningVariance, "runningVariance")] {
            try checkChannelVector(v, name, channels: g.channels, dtype: x.dtype)
        }
        let scale = inferenceScale(gamma: gamma, runningVariance: runningVariance, epsilon: epsilon)
        let mean = runningMean.doubles, shift = beta.doubles
        var y = Tensor(uninitialized: x.shape, dtype: x.dtype, layout: x.layout)
        if usesReference(x.dtype) {
            switch x.dtype {
            case .float32: referenceAffine(Float.self, x, into: &y, g, mean: mean, scale: scale, shift: shift)
            case .float64: referenceAffine(Double.self, x, into: &y, g, mean: mean, scale: scale, shift: shift)
            }
        } else {
            fastAffine(x.floatPointer, y.floatPointer, g, mean: mean.map(Float.init), scale: scale.map(Float.init), shift: shift.map(Float.init), threads: threads)
        }
        record("batchNormInference", inputs: [x, gamma, beta, runningMean, runningVariance], output: y, attributes: ["epsilon": epsilon])
        return y
    }

    /// dx of `batchNormInference`: dy * gamma / sqrt(runningVariance + epsilon).
    public func batchNormInferenceBackward(_ gradOutput: Tensor, gamma: Tensor, runningVariance: Tensor, epsilon: Double = 1e-5) throws -> Tensor {
        let g = try ChannelGeometry(gradOutput, "batchNormInferenceBackward gradOutput")
        try checkEpsilon(epsilon)
        try checkChannelVector(gamma, "gamma", channels: g.channels, dtype: gradOutput.dtype)
        try checkChannelVector(runningVariance, "runningVariance", channels: g.channels, dtype: gradOutput.dtype)
        let scale = inferenceScale(gamma: gamma, runningVariance: runningVariance, epsilon: epsilon)
        let zeros = [Double](repeating: 0, count: g.channels)
        var dx = Tensor(uninitialized: gradOutput.shape, dtype: gradOutput.dtype, layout: gradOutput.layout)
        if usesReference(gradOutput.dtype) {
            switch gradOutput.dtype {
            case .float32: referenceAffine(Float.self, gradOutput, into: &dx, g, mean: zeros, scale: scale, shift: zeros)
            case .float64: referenceAffine(Double.self, gradOutput, into: &dx, g, mean: zeros, scale: scale, shift: zeros)
            }
        } else {
            let z = [Float](repeating: 0, count: g.channels)
            fastAffine(gradOutput.floatPointer, dx.floatPointer, g, mean: z, scale: scale.map(Float.init), shift: z, threads: threads)
        }
        record("batchNormInferenceBackward", inputs: [gradOutput, gamma, runningVariance], output: dx, attributes: ["epsilon": epsilon])
        return dx
    }

    // MARK: Shared drivers

    private func inferenceScale(gamma: Tensor, runningVariance: Tensor, epsilon: Double) -> [Double] {
        zip(gamma.doubles, runningVariance.doubles).map { $0 / ($1 + epsilon).squareRoot() }
    }

    private func bnTrainingForward(_ x: Tensor, gamma: Tensor, beta: Tensor, epsilon: Double, relu: Bool,
                                   residual: Tensor? = nil) throws -> (output: Tensor, statistics: BatchNormStatistics) {
        let g = try ChannelGeometry(x, "batch norm input")
        if g.rows < 1 { throw KernelError.invalidArgument("batch norm needs at least one sample, got \(x.shape)") }
        try checkEpsilon(epsilon)
        try checkChannelVector(gamma, "gamma", channels: g.channels, dtype: x.dtype)
        try checkChannelVector(beta, "beta", channels: g.channels, dtype: x.dtype)
        var y = Tensor(uninitialized: x.shape, dtype: x.dtype, layout: x.layout)
        let moments: (mean: [Double], variance: [Double])
        if usesReference(x.dtype) {
            switch x.dtype {
            case .float32: moments = referenceMoments(Float.self, x, g)
            case .float64: moments = referenceMoments(Double.self, x, g)
            }
        } else {
            moments = fastMoments(x.floatPointer, g, threads: threads)
        }
        let inverseStd = moments.variance.map { 1 / ($0 + epsilon).squareRoot() }
        let stats = BatchNormStatistics(
            mean: Tensor(doubles: moments.mean, dtype: x.dtype),
            inverseStd: Tensor(doubles: inverseStd, dtype: x.dtype),
            variance: Tensor(doubles: moments.variance, dtype: x.dtype))
        // Normalise with the statistics exactly as stored, so that the backward pass (which
        // sees only the stored values) differentiates the function that was computed.
        let mean = stats.mean.doubles, istd = stats.inverseStd.doubles
        let scale = zip(gamma.doubles, istd).map { $0 * $1 }
        let shift = beta.doubles
        if usesReference(x.dtype) {
            switch x.dtype {
            case .float32: referenceAffine(Float.self, x, into: &y, g, mean: mean, scale: scale, shift: shift, relu: relu, residual: residual)
            case .float64: referenceAffine(Double.self, x, into: &y, g, mean: mean, scale: scale, shift: shift, relu: relu, residual: residual)
            }
        } else {
            fastAffine(x.floatPointer, y.floatPointer, g, mean: mean.map(Float.init), scale: scale.map(Float.init), shift: shift.map(Float.init),
                       relu: relu, residual: residual?.floatPointer, threads: threads)
        }
        return (y, stats)
    }

    private func bnTrainingBackward(_ dy: Tensor, x: Tensor, y: Tensor?, gamma: Tensor, statistics s: BatchNormStatistics) throws -> (gradInput: Tensor, gradGamma: Tensor, gradBeta: Tensor) {
        let g = try ChannelGeometry(x, "batch norm input")
        if g.rows < 1 { throw KernelError.invalidArgument("batch norm needs at least one sample, got \(x.shape)") }
        try checkSameShape(x, "input", dy, "gradOutput")
        if let y { try checkSameShape(x, "input", y, "output") }
        try checkChannelVector(gamma, "gamma", channels: g.channels, dtype: x.dtype)
        try checkChannelVector(s.mean, "statistics.mean", channels: g.channels, dtype: x.dtype)
        try checkChannelVector(s.inverseStd, "statistics.inverseStd", channels: g.channels, dtype: x.dtype)
        let mean = s.mean.doubles, istd = s.inverseStd.doubles, gammas = gamma.doubles
        let reference = usesReference(x.dtype)

        // Per channel: sum of g and of g * (x - mean), g = dy masked by the ReLU.
        let sums: (g: [Double], gx: [Double])
        if reference {
            switch x.dtype {
            case .float32: sums = referenceBackwardSums(Float.self, dy, x, y, g, mean: mean)
            case .float64: sums = referenceBackwardSums(Double.self, dy, x, y, g, mean: mean)
            }
        } else {
            sums = fastBackwardSums(dy.floatPointer, x.floatPointer, y?.floatPointer, g, mean: mean.map(Float.init), threads: threads)
        }
        let m = Double(g.rows)
        let gradBeta = sums.g
        let gradGamma = (0..<g.channels).map { sums.gx[$0] * istd[$0] }
        // dx = gamma*istd * (g - dbeta/M - xhat*dgamma/M), written as a*(g - c) + b*(x - mean)
        // with c the mean gradient, so that constant parts cancel exactly (one sample: dx = 0).
        let a = (0..<g.channels).map { gammas[$0] * istd[$0] }
        let b = (0..<g.channels).map { -a[$0] * istd[$0] * gradGamma[$0] / m }
        let c = (0..<g.channels).map { gradBeta[$0] / m }
        var dx = Tensor(uninitialized: x.shape, dtype: x.dtype, layout: x.layout)
        if reference {
            switch x.dtype {
            case .float32: referenceBackwardInput(Float.self, dy, x, y, into: &dx, g, mean: mean, a: a, b: b, c: c)
            case .float64: referenceBackwardInput(Double.self, dy, x, y, into: &dx, g, mean: mean, a: a, b: b, c: c)
            }
        } else {
            fastBackwardInput(dy.floatPointer, x.floatPointer, y?.floatPointer, dx.floatPointer, g,
                              mean: mean.map(Float.init), a: a.map(Float.init), b: b.map(Float.init), c: c.map(Float.init), threads: threads)
        }
        return (dx, Tensor(doubles: gradGamma, dtype: x.dtype), Tensor(doubles: gradBeta, dtype: x.dtype))
    }
}

extension Tensor {
    /// A plain 1-d tensor of the given dtype from float64 values (rounded for float32).
    init(doubles values: [Double], dtype: DType) {
        switch dtype {
        case .float32: self.init(shape: [values.count], scalars: values.map(Float.init))
        case .float64: self.init(shape: [values.count], scalars: values)
        }
    }
}

// MARK: - Reference kernels (float64 accumulation, generic element type)

private func referenceMoments<T: BinaryFloatingPoint>(_: T.Type, _ x: Tensor, _ g: ChannelGeometry) -> (mean: [Double], variance: [Double]) {
    let p = typedPointer(x, T.self), C = g.channels
    var mean = [Double](repeating: 0, count: C)
    for r in 0..<g.rows { for c in 0..<C { mean[c] += Double(p[g.offset(row: r, channel: c)]) } }
    for c in 0..<C { mean[c] /= Double(g.rows) }
    var variance = [Double](repeating: 0, count: C)
    for r in 0..<g.rows {
        for c in 0..<C {
            let d = Double(p[g.offset(row: r, channel: c)]) - mean[c]
            variance[c] += d * d
        }
    }
    for c in 0..<C { variance[c] /= Double(g.rows) }
    return (mean, variance)
}

/// y = (x - mean) * scale + shift per channel, rounded to T, [plus the residual, rounded
/// again, as a separate add would,] optionally followed by ReLU.
private func referenceAffine<T: BinaryFloatingPoint>(_: T.Type, _ x: Tensor, into y: inout Tensor, _ g: ChannelGeometry,
                                                     mean: [Double], scale: [Double], shift: [Double], relu: Bool = false,
                                                     residual: Tensor? = nil) {
    let p = typedPointer(x, T.self), q = typedPointer(y, T.self), C = g.channels
    let s = residual.map { typedPointer($0, T.self) }
    for r in 0..<g.rows {
        for c in 0..<C {
            let i = g.offset(row: r, channel: c)
            var v = (Double(p[i]) - mean[c]) * scale[c] + shift[c]
            if let s { v = Double(T(v)) + Double(s[i]) }
            q[i] = T(relu && v < 0 ? 0 : v)
        }
    }
}

private func referenceBackwardSums<T: BinaryFloatingPoint>(_: T.Type, _ dy: Tensor, _ x: Tensor, _ y: Tensor?, _ g: ChannelGeometry,
                                                           mean: [Double]) -> (g: [Double], gx: [Double]) {
    let d = typedPointer(dy, T.self), p = typedPointer(x, T.self), o = y.map { typedPointer($0, T.self) }, C = g.channels
    var sg = [Double](repeating: 0, count: C), sgx = sg
    for r in 0..<g.rows {
        for c in 0..<C {
            let i = g.offset(row: r, channel: c)
            let grad = o.map { $0[i] > 0 } ?? true ? Double(d[i]) : 0
            sg[c] += grad
            sgx[c] += grad * (Double(p[i]) - mean[c])
        }
    }
    return (sg, sgx)
}

private func referenceBackwardInput<T: BinaryFloatingPoint>(_: T.Type, _ dy: Tensor, _ x: Tensor, _ y: Tensor?, into dx: inout Tensor, _ g: ChannelGeometry,
                                                            mean: [Double], a: [Double], b: [Double], c: [Double]) {
    let d = typedPointer(dy, T.self), p = typedPointer(x, T.self), o = y.map { typedPointer($0, T.self) }
    let q = typedPointer(dx, T.self), C = g.channels
    for r in 0..<g.rows {
        for ch in 0..<C {
            let i = g.offset(row: r, channel: ch)
            let grad = o.map { $0[i] > 0 } ?? true ? Double(d[i]) : 0
            q[i] = T(a[ch] * (grad - c[ch]) + b[ch] * (Double(p[i]) - mean[ch]))
        }
    }
}

// MARK: - Fast float32 kernels

/// Centred moments of one chunk's column block: the chunk mean as shift m, then sums of
/// d = x - m and d^2 (the sum of d corrects the rounding of m). Even rows of the chunk sum
/// into one accumulator and odd rows into another, across runs as within them.
@inline(__always)
private func chunkMoments16(_ x: UnsafeMutablePointer<Float>, _ g: ChannelGeometry, rows: Range<Int>, column c: Int)
    -> (shift: SIMD16<Float>, s1: SIMD16<Float>, s2: SIMD16<Float>) {
    let stride = g.rowStride
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>()
    var nextIsOdd = false
    g.forEachRun(rows, column: c) { start, count in
        var p = x + start, k = count
        if nextIsOdd && k > 0 {
            a1 += load16(p)
            p += stride
            k -= 1
            nextIsOdd = false
        }
        while k >= 2 {
            a0 += load16(p)
            a1 += load16(p + stride)
            p += 2 * stride
            k -= 2
        }
        if k == 1 {
            a0 += load16(p)
            nextIsOdd = true
        }
    }
    let m = (a0 + a1) / Float(rows.count)
    var s1 = SIMD16<Float>(), s2 = SIMD16<Float>()
    g.forEachRun(rows, column: c) { start, count in
        for r in 0..<count {
            let d = load16(x + start + r * stride) - m
            s1 += d
            s2 += d * d
        }
    }
    return (m, s1, s2)
}

private func fastMoments(_ x: UnsafeMutablePointer<Float>, _ g: ChannelGeometry, threads: Int) -> (mean: [Double], variance: [Double]) {
    let C = g.channels, chunks = g.chunks, vectorEnd = C & ~15
    let chunkMean = UnsafeMutablePointer<Double>.allocate(capacity: chunks * C)
    let chunkM2 = UnsafeMutablePointer<Double>.allocate(capacity: chunks * C)
    defer { chunkMean.deallocate(); chunkM2.deallocate() }
    parallelChunks(chunks, threads: threads) { range in
        for k in range {
            let rows = g.rowRange(ofChunk: k), n = rows.count, dn = Double(n)
            let base = x + rows.lowerBound * C
            var c = 0
            while c < vectorEnd {
                let (m, s1, s2) = chunkMoments16(x, g, rows: rows, column: c)
                for l in 0..<16 {
                    let d1 = Double(s1[l])
                    chunkMean[k * C + c + l] = Double(m[l]) + d1 / dn
                    chunkM2[k * C + c + l] = max(0, Double(s2[l]) - d1 * d1 / dn)
                }
                c += 16
            }
            while c < C {
                var s: Float = 0
                for r in 0..<n { s += base[r * C + c] }
                let m = s / Float(n)
                var s1: Float = 0, s2: Float = 0
                for r in 0..<n {
                    let d = base[r * C + c] - m
                    s1 += d
                    s2 += d * d
                }
                chunkMean[k * C + c] = Double(m) + Double(s1) / dn
                chunkM2[k * C + c] = max(0, Double(s2) - Double(s1) * Double(s1) / dn)
                c += 1
            }
        }
    }
    // Chan et al.'s pairwise update, chunk by chunk in a fixed order.
    var mean = [Double](repeating: 0, count: C), m2 = mean
    var n = 0.0
    for k in 0..<chunks {
        let nb = Double(g.rowRange(ofChunk: k).count), total = n + nb
        for c in 0..<C {
            let delta = chunkMean[k * C + c] - mean[c]
            mean[c] += delta * nb / total
            m2[c] += chunkM2[k * C + c] + delta * delta * n * nb / total
        }
        n = total
    }
    return (mean, m2.map { $0 / Double(g.rows) })
}

/// Per-channel parameters padded to whole SIMD16 blocks.
private struct ChannelParameters {
    let pointers: [UnsafeMutablePointer<Float>]
    init(_ vectors: [[Float]]) {
        pointers = vectors.map { v in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: (v.count + 15) & ~15)
            p.initialize(repeating: 0, count: (v.count + 15) & ~15)
            p.update(from: v, count: v.count)
            return p
        }
    }
    func free() { pointers.forEach { $0.deallocate() } }
}

/// y = (x - mean) * scale + shift, optionally ReLU. Used for training and inference forward
/// passes and the inference backward pass.
private func fastAffine(_ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ g: ChannelGeometry,
                        mean: [Float], scale: [Float], shift: [Float], relu: Bool = false,
                        residual: UnsafeMutablePointer<Float>? = nil, threads: Int) {
    let params = ChannelParameters([mean, scale, shift])
    defer { params.free() }
    let mp = params.pointers[0], sp = params.pointers[1], bp = params.pointers[2]
    let C = g.channels, vectorEnd = C & ~15, stride = g.rowStride
    // No reduction here, so any chunking gives the same bits; use ~64 KB chunks.
    let rowsPerChunk = max(1, 16384 / C)
    parallelChunks(chunkCount(g.rows, grain: rowsPerChunk), threads: g.count >= 32768 ? threads : 1) { range in
        let r0 = range.lowerBound * rowsPerChunk, r1 = min(g.rows, range.upperBound * rowsPerChunk)
        var c = 0
        while c < vectorEnd {
            let m = load16(mp + c), s = load16(sp + c), b = load16(bp + c)
            g.forEachRun(r0..<r1, column: c) { start, count in
                if let residual {
                    // The affine result is rounded before the add, as a separate add kernel sees it.
                    for r in 0..<count {
                        let o = start + r * stride
                        let v = ((load16(x + o) - m) * s + b) + load16(residual + o)
                        store16(relu ? zeroWhereNegative(v) : v, y + o)
                    }
                } else if relu {
                    for r in 0..<count {
                        let o = start + r * stride
                        store16(zeroWhereNegative((load16(x + o) - m) * s + b), y + o)
                    }
                } else {
                    for r in 0..<count {
                        let o = start + r * stride
                        store16((load16(x + o) - m) * s + b, y + o)
                    }
                }
            }
            c += 16
        }
        while c < C {
            for r in r0..<r1 {
                var v = (x[r * C + c] - mp[c]) * sp[c] + bp[c]
                if let residual { v += residual[r * C + c] }
                y[r * C + c] = relu && v < 0 ? 0 : v
            }
            c += 1
        }
    }
}

@inline(__always)
private func maskedGradient(_ dy: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>?, _ offset: Int) -> SIMD16<Float> {
    let d = load16(dy + offset)
    guard let y else { return d }
    return keepWherePositive(d, load16(y + offset))
}

private func fastBackwardSums(_ dy: UnsafeMutablePointer<Float>, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>?,
                              _ g: ChannelGeometry, mean: [Float], threads: Int) -> (g: [Double], gx: [Double]) {
    let C = g.channels, chunks = g.chunks, vectorEnd = C & ~15, stride = g.rowStride
    let params = ChannelParameters([mean])
    defer { params.free() }
    let mp = params.pointers[0]
    let partialG = UnsafeMutablePointer<Double>.allocate(capacity: chunks * C)
    let partialGX = UnsafeMutablePointer<Double>.allocate(capacity: chunks * C)
    defer { partialG.deallocate(); partialGX.deallocate() }
    parallelChunks(chunks, threads: threads) { range in
        for k in range {
            let rows = g.rowRange(ofChunk: k)
            var c = 0
            while c < vectorEnd {
                let m = load16(mp + c)
                var sg0 = SIMD16<Float>(), sgx0 = SIMD16<Float>()
                g.forEachRun(rows, column: c) { start, count in
                    if let y {
                        for r in 0..<count {
                            let o = start + r * stride
                            let grad = maskedGradient(dy, y, o)
                            sg0 += grad
                            sgx0 += grad * (load16(x + o) - m)
                        }
                    } else {
                        for r in 0..<count {
                            let o = start + r * stride
                            let grad = load16(dy + o)
                            sg0 += grad
                            sgx0 += grad * (load16(x + o) - m)
                        }
                    }
                }
                for l in 0..<16 {
                    partialG[k * C + c + l] = Double(sg0[l])
                    partialGX[k * C + c + l] = Double(sgx0[l])
                }
                c += 16
            }
            while c < C {
                var sg: Float = 0, sgx: Float = 0
                for r in rows {
                    let o = r * C + c
                    let grad: Float = y.map { $0[o] > 0 } ?? true ? dy[o] : 0
                    sg += grad
                    sgx += grad * (x[o] - mp[c])
                }
                partialG[k * C + c] = Double(sg)
                partialGX[k * C + c] = Double(sgx)
                c += 1
            }
        }
    }
    var sg = [Double](repeating: 0, count: C), sgx = sg
    for k in 0..<chunks {
        for c in 0..<C {
            sg[c] += partialG[k * C + c]
            sgx[c] += partialGX[k * C + c]
        }
    }
    return (sg, sgx)
}

private func fastBackwardInput(_ dy: UnsafeMutablePointer<Float>, _ x: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>?,
                               _ dx: UnsafeMutablePointer<Float>, _ g: ChannelGeometry,
                               mean: [Float], a: [Float], b: [Float], c cs: [Float], threads: Int) {
    let params = ChannelParameters([mean, a, b, cs])
    defer { params.free() }
    let mp = params.pointers[0], ap = params.pointers[1], bp = params.pointers[2], cp = params.pointers[3]
    let C = g.channels, vectorEnd = C & ~15, stride = g.rowStride
    let rowsPerChunk = max(1, 16384 / C)
    parallelChunks(chunkCount(g.rows, grain: rowsPerChunk), threads: g.count >= 32768 ? threads : 1) { range in
        let r0 = range.lowerBound * rowsPerChunk, r1 = min(g.rows, range.upperBound * rowsPerChunk)
        var c = 0
        while c < vectorEnd {
            let m = load16(mp + c), av = load16(ap + c), bv = load16(bp + c), cv = load16(cp + c)
            g.forEachRun(r0..<r1, column: c) { start, count in
                if let y {
                    for r in 0..<count {
                        let o = start + r * stride
                        store16(av * (maskedGradient(dy, y, o) - cv) + bv * (load16(x + o) - m), dx + o)
                    }
                } else {
                    for r in 0..<count {
                        let o = start + r * stride
                        store16(av * (load16(dy + o) - cv) + bv * (load16(x + o) - m), dx + o)
                    }
                }
            }
            c += 16
        }
        while c < C {
            for r in r0..<r1 {
                let o = r * C + c
                let grad: Float = y.map { $0[o] > 0 } ?? true ? dy[o] : 0
                dx[o] = ap[c] * (grad - cp[c]) + bp[c] * (x[o] - mp[c])
            }
            c += 1
        }
    }
}
