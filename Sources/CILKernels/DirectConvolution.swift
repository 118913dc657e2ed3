// Our own AVX2/FMA kernels (Sources/CConv3x3) for the 3x3, stride-1, padding-1
// convolutions that make up nearly all of a ResNet's arithmetic, opt-in with
// CILBENCH_CONV3X3=direct. Timed in alternation with oneDNN 2.6's jit:avx2 on a 2-vCPU
// Zen 3 they are faster on 16-channel layers and on backward-weights, slower on
// 64-channel backward-data (kept on oneDNN), and a step gains 1.02-1.18x (README.md,
// "Speed"). Other geometries (stems, stride 2, 1x1, wide layers) always run on oneDNN.
//
// Determinism: forward and backward-data accumulate each output in one fixed order, and
// backward-weights sums per-chunk partials in chunk order over a chunk count that depends
// only on the batch, so these kernels give the same bits at every thread count.
import CConv3x3
import Foundation

/// Which implementation runs 3x3 stride-1 convolutions on the fast path.
public enum Conv3x3Kernel: String, Sendable {
    /// cilbench's AVX2/FMA kernels where the CPU has them, else oneDNN.
    case direct
    /// oneDNN's direct kernels.
    case onednn
    /// oneDNN's Winograd F(4x4, 3x3) kernels (`jit_wino_4x3`, AVX-512 only) for layers of 32
    /// or more channels, cilbench's F(2x2, 3x3) for 16-channel layers,
    /// direct oneDNN kernels elsewhere; see WinogradConvolution.swift.
    case winograd

    /// The process default: the Winograd engine, which falls back to plain oneDNN on CPUs
    /// (or under a `DNNL_MAX_CPU_ISA`) without oneDNN's AVX-512 Winograd kernels, so an AVX2
    /// host computes exactly what it did before the Winograd engine existed. The environment
    /// variable `CILBENCH_CONV3X3` picks another: `onednn` (oneDNN's direct kernels
    /// everywhere), `direct` (cilbench's AVX2/FMA kernels) or `winograd`.
    ///
    /// Winograd is the default because it is the fast engine: measured side by side with
    /// PyTorch on a 2-vCPU Zen 4, 1.3-1.5x per training step where oneDNN's direct kernels
    /// are at parity (README.md, "Speed"). Its rounding differs from a direct convolution's
    /// (WinogradConvolution.swift); every manifest records which engine ran
    /// (`conv3x3_kernel`). The direct AVX2 kernels stay opt-in: 1.02-1.18x over oneDNN on a
    /// slow Zen 3 host and a tie on a fast one, not the decisive win that would justify
    /// moving every stored AVX2 baseline's bits.
    public static var processDefault: Conv3x3Kernel {
        switch ProcessInfo.processInfo.environment["CILBENCH_CONV3X3"] {
        case "direct": return .direct
        case "onednn": return .onednn
        default: return .winograd
        }
    }

    /// Whether this CPU has AVX2 and FMA.
    public static var cpuSupportsDirect: Bool { cil_conv3x3_available() != 0 }

    /// What an engine asked for this kernel runs on this CPU (and under this process's
    /// `DNNL_MAX_CPU_ISA`): oneDNN where the asked-for kernels are missing.
    public var resolvedForThisCPU: Conv3x3Kernel {
        switch self {
        case .direct: Self.cpuSupportsDirect ? .direct : .onednn
        case .winograd: Self.cpuSupportsWinograd ? .winograd : .onednn
        case .onednn: .onednn
        }
    }
}

extension ComputeEngine {
    /// Whether the direct kernels take this geometry (all three passes check it). Channel
    /// limits keep the weight working set in L1/L2 and the per-chunk gradient partials small.
    public func runsDirect3x3(_ g: Conv2DGeometry) -> Bool {
        conv3x3Kernel == .direct && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding == 1
            && g.inChannels % 16 == 0 && g.outChannels % 16 == 0 && g.inChannels <= 64 && g.outChannels <= 64
            && g.height > 0 && g.width > 0 && g.batch > 0
    }

    /// Backward-data goes to oneDNN from 64 channels on: its jit:avx2 backward-data beats the
    /// direct kernel there (interleaved `cilbench bench --compare-conv3x3`: 118 vs 102
    /// GFLOP/s on 64->64 @8), while the direct kernel wins or ties on 16 and 32 channels.
    public func runsDirect3x3BackwardData(_ g: Conv2DGeometry) -> Bool {
        runsDirect3x3(g) && max(g.inChannels, g.outChannels) <= 32
    }

    /// y = relu?(conv(x, W) + bias + residual) for NHWC `x` and OIHW `weight`.
    func direct3x3Forward(_ x: UnsafeRawPointer, oihw weight: UnsafeRawPointer, bias: UnsafeRawPointer?, residual: UnsafeRawPointer?,
                          relu: Bool, into y: UnsafeMutableRawPointer, _ g: Conv2DGeometry) throws {
        let hwio = Self.hwio(weight.assumingMemoryBound(to: Float.self), out: g.outChannels, in: g.inChannels, flipped: false)
        try runForward(x, hwio: hwio, bias: bias, residual: residual, relu: relu, into: y,
                       batch: g.batch, height: g.height, width: g.width, inChannels: g.inChannels, outChannels: g.outChannels)
    }

    /// dx = the forward convolution of dy with the kernel flipped and its channel axes swapped.
    func direct3x3BackwardData(_ dy: UnsafeRawPointer, oihw weight: UnsafeRawPointer, into dx: UnsafeMutableRawPointer,
                               _ g: Conv2DGeometry) throws {
        let flipped = Self.hwio(weight.assumingMemoryBound(to: Float.self), out: g.outChannels, in: g.inChannels, flipped: true)
        try runForward(dy, hwio: flipped, bias: nil, residual: nil, relu: false, into: dx,
                       batch: g.batch, height: g.height, width: g.width, inChannels: g.outChannels, outChannels: g.inChannels)
    }

    /// dW (OIHW) summed over the batch.
    func direct3x3BackwardWeights(_ x: UnsafeRawPointer, _ dy: UnsafeRawPointer, into dw: UnsafeMutableRawPointer,
                                  _ g: Conv2DGeometry) throws {
        let C = g.inChannels, O = g.outChannels, taps = 9 * C * O
        let xf = x.assumingMemoryBound(to: Float.self), dyf = dy.assumingMemoryBound(to: Float.self)
        try sumOverImageChunks(batch: g.batch, size: taps, "conv3x3 backward-weights") { partial, first, last in
            cil_conv3x3_backward_weights(xf, dyf, partial, first, last, Int32(g.height), Int32(g.width), Int32(C), Int32(O))
        } finish: { sum in
            // HWIO -> OIHW.
            let out = dw.assumingMemoryBound(to: Float.self)
            for i in 0..<taps {
                let tap = i / (C * O), c = (i / O) % C, o = i % O
                out[(o * C + c) * 9 + tap] = sum[i]
            }
        }
    }

    /// A sum over the batch's images of `size` floats, made the same whatever the thread
    /// count: one zeroed partial per chunk of images (the chunk count depends on the batch
    /// only), each filled by `accumulate` (a C kernel: 0, or non-zero when it could not
    /// allocate), then the partials added in chunk order; `finish` reads the sum.
    func sumOverImageChunks(batch: Int, size: Int, _ name: String,
                            accumulate: (UnsafeMutablePointer<Float>, Int32, Int32) -> Int32,
                            finish: (UnsafeMutablePointer<Float>) -> Void) throws {
        let chunks = min(batch, 16)
        let partials = UnsafeMutablePointer<Float>.allocate(capacity: chunks * size)
        defer { partials.deallocate() }
        partials.initialize(repeating: 0, count: chunks * size)
        let failed = FailureFlag()
        parallelChunks(chunks, threads: threads) { range in
            for chunk in range {
                let first = batch * chunk / chunks, last = batch * (chunk + 1) / chunks
                if accumulate(partials + chunk * size, Int32(first), Int32(last)) != 0 { failed.set() }
            }
        }
        if failed.isSet { throw KernelError.invalidArgument("\(name) could not allocate its scratch buffer") }
        for chunk in 1..<chunks {
            for i in 0..<size { partials[i] += partials[chunk * size + i] }
        }
        finish(partials)
    }

    private func runForward(_ x: UnsafeRawPointer, hwio: [Float], bias: UnsafeRawPointer?, residual: UnsafeRawPointer?, relu: Bool,
                            into y: UnsafeMutableRawPointer, batch: Int, height: Int, width: Int, inChannels: Int, outChannels: Int) throws {
        let failed = FailureFlag()
        let xf = x.assumingMemoryBound(to: Float.self), yf = y.assumingMemoryBound(to: Float.self)
        let bf = bias?.assumingMemoryBound(to: Float.self), rf = residual?.assumingMemoryBound(to: Float.self)
        hwio.withUnsafeBufferPointer { w in
            parallelChunks(batch, threads: threads) { range in
                if cil_conv3x3_forward(xf, w.baseAddress, bf, rf, relu ? 1 : 0, yf, Int32(range.lowerBound), Int32(range.upperBound),
                                       Int32(height), Int32(width), Int32(inChannels), Int32(outChannels)) != 0 { failed.set() }
            }
        }
        if failed.isSet { throw KernelError.invalidArgument("conv3x3 forward could not allocate its scratch buffer") }
    }

    /// OIHW -> HWIO ([kh][kw][in][out]); `flipped` gives the backward-data kernel
    /// [kh][kw][out][in] = W[out][in][2-kh][2-kw].
    static func hwio(_ w: UnsafePointer<Float>, out O: Int, in C: Int, flipped: Bool) -> [Float] {
        var r = [Float](repeating: 0, count: 9 * C * O)
        for o in 0..<O {
            for c in 0..<C {
                for tap in 0..<9 {
                    let v = w[(o * C + c) * 9 + tap]
                    if flipped { r[(8 - tap) * C * O + o * C + c] = v } else { r[tap * C * O + c * O + o] = v }
                }
            }
        }
        return r
    }
}

/// Set by any worker whose kernel call failed; read after the parallel region.
final class FailureFlag: @unchecked Sendable {
    private var value = false
    private let lock = NSLock()
    func set() { lock.lock(); value = true; lock.unlock() }
    var isSet: Bool { lock.lock(); defer { lock.unlock() }; return value }
}
