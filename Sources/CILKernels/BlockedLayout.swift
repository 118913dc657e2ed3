// oneDNN's blocked activation layout nChw16c, and when activations live in it.
//
// oneDNN 2.6's Winograd kernels (WinogradConvolution.swift) read and write only nChw16c.
// With NHWC activations every Winograd call reorders its inputs in and its output out:
// six full passes over activations per layer and step, about 30 ms of a 257 ms plain
// ResNet-32 training step on a 2-vCPU Zen 4 (`DNNL_VERBOSE`; README.md, "Speed"). So where the Winograd
// engine runs, a residual stage keeps its activations blocked from the convolution that
// enters it to the one that leaves it: batch norm, ReLU, the residual joins and their
// gradients all read and write nChw16c (BatchNorm.swift, Elementwise.swift), and only the
// stage's outputs, which methods read, are reordered to NHWC (ResNet.swift).
//
// A reorder is a copy: it cannot change a bit, and batch norm walks a blocked tensor's
// rows in the same order as an NHWC one's, so its results are the same bits in either
// layout (BlockedLayoutTests).
import CDNNL

extension ComputeEngine {
    /// The layout a residual stage of `channels` channels keeps its activations in: nChw16c
    /// where the Winograd engine runs on float32 (32 or more channels, a multiple of 16:
    /// the layers it takes), NHWC everywhere else.
    public func activationLayout(channels: Int, dtype: DType = .float32) -> Layout {
        conv3x3Kernel == .winograd && !usesReference(dtype) && channels % 16 == 0 && channels >= 32 ? .nChw16c : .nhwc
    }

    /// `x` in `layout`: the same logical [N, H, W, C] tensor, its elements moved. Between
    /// `.nhwc` and `.nChw16c` only; any other pair throws, and a tensor already in `layout`
    /// comes back as it is (no copy, no kernel call).
    public func reordered(_ x: Tensor, to layout: Layout) throws -> Tensor {
        if x.layout == layout { return x }
        guard x.rank == 4, [Layout.nhwc, .nChw16c].contains(x.layout), [Layout.nhwc, .nChw16c].contains(layout) else {
            throw KernelError.invalidArgument("reorder goes between NHWC and nChw16c, got \(x.layout) \(x.shape) to \(layout)")
        }
        guard x.shape[3] % 16 == 0 else {
            throw KernelError.invalidArgument("nChw16c needs a multiple of 16 channels, got \(x.shape)")
        }
        let out = Tensor(uninitialized: x.shape, dtype: x.dtype, layout: layout)
        if !usesReference(x.dtype) && x.count > 0 {
            // oneDNN's jit reorder: 56 us against 1.2 ms for the Swift loops below on a
            // 128x16x16x32 map (Benchmarks, `norm s2 ... reorder to NHWC nChw16c`).
            try reorderPrimitive(x.shape, from: x.layout, to: layout).run(self, from: x.storage.raw, to: out.storage.raw)
            record("reorder", inputs: [x], output: out)
            return out
        }
        let blocking = layout == .nChw16c
        let (n, pixels, channels) = (x.shape[0], x.shape[1] * x.shape[2], x.shape[3])
        let blocks = channels / 16, width = x.dtype.byteWidth
        let source = x.storage.raw, destination = out.storage.raw
        // One slab per (image, channel block): 16 contiguous channels of every pixel.
        let slabs = n * blocks
        let slabsPerChunk = max(1, 4096 / max(1, pixels))
        parallelChunks(chunkCount(slabs, grain: slabsPerChunk), threads: x.count >= parallelThreshold ? threads : 1) { range in
            for slab in (range.lowerBound * slabsPerChunk)..<min(slabs, range.upperBound * slabsPerChunk) {
                let image = slab / blocks, block = slab % blocks
                let blockedBase = slab * pixels * 16
                let nhwcBase = image * pixels * channels + block * 16
                if width == 4 {
                    let s = source.assumingMemoryBound(to: Float.self), d = destination.assumingMemoryBound(to: Float.self)
                    if blocking {
                        for p in 0..<pixels { store16(load16(s + nhwcBase + p * channels), d + blockedBase + p * 16) }
                    } else {
                        for p in 0..<pixels { store16(load16(s + blockedBase + p * 16), d + nhwcBase + p * channels) }
                    }
                } else {
                    for p in 0..<pixels {
                        let (from, to) = blocking ? (nhwcBase + p * channels, blockedBase + p * 16) : (blockedBase + p * 16, nhwcBase + p * channels)
                        (destination + to * width).copyMemory(from: source + from * width, byteCount: 16 * width)
                    }
                }
            }
        }
        record("reorder", inputs: [x], output: out)
        return out
    }
}

/// A cached oneDNN reorder between NHWC and nChw16c for one shape.
final class ActivationReorder: ResidentPrimitive {
    var residentBytes: Int { op.scratchpadByteCount }
    private let source: DNNLMemory, destination: DNNLMemory
    private let op: DNNLOp

    init(_ shape: [Int], from: Layout, to: Layout, engine: dnnl_engine_t) throws {
        let dims = [shape[0], shape[3], shape[1], shape[2]]
        let sourceMD = try dnnlMemoryDesc(dims, dnnlActivationTag(from)), destinationMD = try dnnlMemoryDesc(dims, dnnlActivationTag(to))
        source = try DNNLMemory(sourceMD, engine: engine, allocate: false)
        destination = try DNNLMemory(destinationMD, engine: engine, allocate: false)
        op = try dnnlReorder(from: source, sourceMD, to: destination, destinationMD, engine: engine)
    }

    func run(_ engine: ComputeEngine, from: UnsafeMutableRawPointer, to: UnsafeMutableRawPointer) throws {
        try source.bind(from)
        try destination.bind(to)
        try op.execute(engine.dnnlStream)
    }
}

extension ComputeEngine {
    func reorderPrimitive(_ shape: [Int], from: Layout, to: Layout) throws -> ActivationReorder {
        let key = "reorder|\(shape)|\(from.rawValue)>\(to.rawValue)"
        if let cached = primitiveCache[key] as? ActivationReorder { return cached }
        let made = try ActivationReorder(shape, from: from, to: to, engine: dnnlEngine)
        primitiveCache[key] = made
        return made
    }
}
