// 2-d max pooling on NHWC activations. Padded positions never win (they count as −∞), and
// every window must hold at least one real element (padding ≤ kernel/2, as in PyTorch).
//
// Gradient routing: each output's gradient goes to the FIRST maximal element of its window
// in window order (kh, then kw). The reference recomputes that argmax from the input with a
// strict `>`; the float32 fast path finds the first element equal to the forward output, so
// `output` passed to backward must be what `maxPool2dForward` returned for `input`.
// The forward result is exact in both paths (a max involves no rounding).
import CDNNL

struct Pool2DGeometry: Hashable, CustomStringConvertible {
    var batch, height, width, channels, kernel, stride, padding: Int
    var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
    var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
    var inputShape: [Int] { [batch, height, width, channels] }
    var outputShape: [Int] { [batch, outHeight, outWidth, channels] }

    /// Throws unless `input` is a rank-4 shape that the window fits.
    init(input: [Int], kernel: Int, stride: Int, padding: Int) throws {
        try requirePool(input.count == 4 && input.allSatisfy { $0 >= 0 }, "max-pool input must be NHWC rank 4, got \(input)")
        try requirePool(kernel >= 1 && stride >= 1 && padding >= 0 && 2 * padding <= kernel,
                        "max-pool kernel \(kernel) stride \(stride) padding \(padding): padding must be at most kernel/2")
        try requirePool(input[1] + 2 * padding >= kernel && input[2] + 2 * padding >= kernel,
                        "max-pool kernel \(kernel) larger than padded input \(input)")
        batch = input[0]; height = input[1]; width = input[2]; channels = input[3]
        self.kernel = kernel; self.stride = stride; self.padding = padding
    }

    /// The kernel taps of output position `o` that land inside an axis of `size` (never empty,
    /// given padding ≤ kernel/2).
    @inline(__always)
    func taps(_ o: Int, size: Int) -> Range<Int> {
        let start = o * stride - padding
        let lower = max(0, -start)
        return lower..<max(lower, min(kernel, size - start))
    }

    var description: String { "\(batch)x\(height)x\(width)x\(channels) k\(kernel) s\(stride) p\(padding)" }
}

extension ComputeEngine {
    /// Max pooling of an NHWC tensor; returns NHWC `[N, OH, OW, C]`.
    public func maxPool2dForward(_ input: Tensor, kernel: Int, stride: Int, padding: Int) throws -> Tensor {
        try requirePool(input.layout == .nhwc, "max-pool wants an NHWC input, got \(input.layout)")
        let g = try Pool2DGeometry(input: input.shape, kernel: kernel, stride: stride, padding: padding)
        let out = Tensor(uninitialized: g.outputShape, dtype: input.dtype, layout: .nhwc)
        if usesReference(input.dtype) || out.count == 0 {
            switch input.dtype {
            case .float32: ReferenceMaxPool.forward(input.storage.raw.assumingMemoryBound(to: Float.self), out.floatPointer, g)
            case .float64: ReferenceMaxPool.forward(input.storage.raw.assumingMemoryBound(to: Double.self), out.doublePointer, g)
            }
        } else {
            let key = "maxpool2d|\(g)|fwd"
            let plan: MaxPoolPrimitive
            if let cached = primitiveCache[key] as? MaxPoolPrimitive {
                plan = cached
            } else {
                plan = try MaxPoolPrimitive(g, engine: dnnlEngine)
                primitiveCache[key] = plan
            }
            try plan.run(self, src: input.storage.raw, dst: out.storage.raw)
        }
        record("maxpool2d.forward", inputs: [input], output: out)
        return out
    }

    /// Gradient of max pooling with respect to its input (NHWC, shape of `input`).
    public func maxPool2dBackward(_ gradOutput: Tensor, input: Tensor, output: Tensor, kernel: Int, stride: Int, padding: Int) throws -> Tensor {
        try requirePool(gradOutput.layout == .nhwc && input.layout == .nhwc && output.layout == .nhwc, "max-pool backward wants NHWC tensors")
        let g = try Pool2DGeometry(input: input.shape, kernel: kernel, stride: stride, padding: padding)
        try requirePool(gradOutput.shape == g.outputShape && output.shape == g.outputShape,
                        "max-pool gradOutput \(gradOutput.shape) / output \(output.shape) do not match \(g)")
        try requirePool(gradOutput.dtype == input.dtype && output.dtype == input.dtype, "max-pool backward dtypes differ")
        let gradInput = Tensor(uninitialized: g.inputShape, dtype: input.dtype, layout: .nhwc)
        switch input.dtype {
        case .float64:
            ReferenceMaxPool.backward(gradOutput.storage.raw.assumingMemoryBound(to: Double.self),
                                      input.storage.raw.assumingMemoryBound(to: Double.self), gradInput.doublePointer, g)
        case .float32 where usesReference(.float32):
            ReferenceMaxPool.backward(gradOutput.storage.raw.assumingMemoryBound(to: Float.self),
                                      input.storage.raw.assumingMemoryBound(to: Float.self), gradInput.floatPointer, g)
        case .float32:
            Self.maxPoolBackwardFast(gradOutput.storage.raw.assumingMemoryBound(to: Float.self),
                                     input.storage.raw.assumingMemoryBound(to: Float.self),
                                     output.storage.raw.assumingMemoryBound(to: Float.self), gradInput.floatPointer, g)
        }
        record("maxpool2d.backward", inputs: [gradOutput, input, output], output: gradInput)
        return gradInput
    }

    /// Routes each gradient to the first window element equal to the forward output: one
    /// compare per tap and no per-channel argmax state. Memory-bound, so single-threaded.
    private static func maxPoolBackwardFast(_ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>,
                                            _ dx: UnsafeMutablePointer<Float>, _ g: Pool2DGeometry) {
        let (H, W, C, OH, OW) = (g.height, g.width, g.channels, g.outHeight, g.outWidth)
        dx.update(repeating: 0, count: g.batch * H * W * C)
        for n in 0..<g.batch {
            for oh in 0..<OH {
                let khRange = g.taps(oh, size: H)
                let ih0 = oh * g.stride - g.padding
                for ow in 0..<OW {
                    let kwRange = g.taps(ow, size: W)
                    let iw0 = ow * g.stride - g.padding
                    let o = ((n * OH + oh) * OW + ow) * C
                    for c in 0..<C {
                        let target = y[o + c]
                        search: for kh in khRange {
                            let rowBase = ((n * H + ih0 + kh) * W + iw0) * C + c
                            for kw in kwRange where x[rowBase + kw * C] == target {
                                dx[rowBase + kw * C] += dy[o + c]
                                break search
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Argument checks that survive -Ounchecked (unlike `precondition`).
@inline(__always)
private func requirePool(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw KernelError.invalidArgument(message()) }
}

/// Portable max pooling, generic over the element type (float64 checks, float32 reference path).
enum ReferenceMaxPool {
    static func forward<T: BinaryFloatingPoint>(_ x: UnsafePointer<T>, _ y: UnsafeMutablePointer<T>, _ g: Pool2DGeometry) {
        let (H, W, C, OH, OW) = (g.height, g.width, g.channels, g.outHeight, g.outWidth)
        for n in 0..<g.batch {
            for oh in 0..<OH {
                let khRange = g.taps(oh, size: H)
                let ih0 = oh * g.stride - g.padding
                for ow in 0..<OW {
                    let kwRange = g.taps(ow, size: W)
                    let iw0 = ow * g.stride - g.padding
                    let yRow = y + ((n * OH + oh) * OW + ow) * C
                    yRow.update(from: x + ((n * H + ih0 + khRange.lowerBound) * W + iw0 + kwRange.lowerBound) * C, count: C)
                    for kh in khRange {
                        for kw in kwRange {
                            let xRow = x + ((n * H + ih0 + kh) * W + iw0 + kw) * C
                            for c in 0..<C where xRow[c] > yRow[c] { yRow[c] = xRow[c] }
                        }
                    }
                }
            }
        }
    }

    /// Recomputes each window's argmax; the strict `>` keeps the first maximum on ties.
    static func backward<T: BinaryFloatingPoint>(_ dy: UnsafePointer<T>, _ x: UnsafePointer<T>, _ dx: UnsafeMutablePointer<T>, _ g: Pool2DGeometry) {
        let (H, W, C, OH, OW) = (g.height, g.width, g.channels, g.outHeight, g.outWidth)
        dx.update(repeating: 0, count: g.batch * H * W * C)
        var best = [T](repeating: 0, count: C)
        var argmax = [Int](repeating: 0, count: C)
        for n in 0..<g.batch {
            for oh in 0..<OH {
                let khRange = g.taps(oh, size: H)
                let ih0 = oh * g.stride - g.padding
                for ow in 0..<OW {
                    let kwRange = g.taps(ow, size: W)
                    let iw0 = ow * g.stride - g.padding
                    var first = true
                    for kh in khRange {
                        for kw in kwRange {
                            let base = ((n * H + ih0 + kh) * W + iw0 + kw) * C
                            for c in 0..<C where first || x[base + c] > best[c] {
                                best[c] = x[base + c]
                                argmax[c] = base + c
                            }
                            first = false
                        }
                    }
                    let dyRow = dy + ((n * OH + oh) * OW + ow) * C
                    for c in 0..<C { dx[argmax[c]] += dyRow[c] }
                }
            }
        }
    }
}

/// oneDNN max-pool forward for one geometry. Inference-kind: backward recomputes the argmax,
/// so no workspace has to travel with the output.
final class MaxPoolPrimitive: ResidentPrimitive {
    var residentBytes: Int { op.scratchpadByteCount }
    private let op: DNNLOp
    private let src: DNNLMemory, dst: DNNLMemory

    init(_ g: Pool2DGeometry, engine: dnnl_engine_t) throws {
        var srcMD = try dnnlMemoryDesc([g.batch, g.channels, g.height, g.width], dnnl_nhwc)
        var dstMD = try dnnlMemoryDesc([g.batch, g.channels, g.outHeight, g.outWidth], dnnl_nhwc)
        let strides: [Int64] = [Int64(g.stride), Int64(g.stride)]
        let kernel: [Int64] = [Int64(g.kernel), Int64(g.kernel)]
        let pad: [Int64] = [Int64(g.padding), Int64(g.padding)]
        var desc = dnnl_pooling_desc_t()
        try dnnlCheck(dnnl_pooling_forward_desc_init(&desc, dnnl_forward_inference, dnnl_pooling_max, &srcMD, &dstMD,
                                                     strides, kernel, pad, pad), "dnnl_pooling_forward_desc_init")
        var pd: dnnl_primitive_desc_t?
        try withUserScratchpadAttr { attr in
            try dnnlCheck(dnnl_primitive_desc_create(&pd, &desc, attr, engine, nil), "dnnl_primitive_desc_create(pooling)")
        }
        let src: DNNLMemory, dst: DNNLMemory
        do {
            src = try DNNLMemory(srcMD, engine: engine, allocate: false)
            dst = try DNNLMemory(dstMD, engine: engine, allocate: false)
        } catch {
            dnnl_primitive_desc_destroy(pd)
            throw error
        }
        op = try DNNLOp(pd: pd!, engine: engine, args: [(DNNL_ARG_SRC, src), (DNNL_ARG_DST, dst)])
        self.src = src
        self.dst = dst
    }

    func run(_ engine: ComputeEngine, src srcPtr: UnsafeMutableRawPointer, dst dstPtr: UnsafeMutableRawPointer) throws {
        try src.bind(srcPtr)
        try dst.bind(dstPtr)
        try op.execute(engine.dnnlStream)
    }
}
