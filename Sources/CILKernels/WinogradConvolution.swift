// oneDNN's Winograd convolutions: the default engine where the CPU has AVX-512
// (CILBENCH_CONV3X3=onednn turns it off).
//
// Winograd F(4x4, 3x3) computes a 3x3 stride-1 convolution with 2.25x fewer multiplies
// than the direct method, so unlike any direct kernel it is not bound by the FMA floor of
// `cilbench bench --roofline`. oneDNN 2.6 has it for AVX-512 only (`jit_wino_4x3`, all
// three passes) and only on its blocked nChw16c layout, so this engine keeps the
// activations of its wide residual stages in that layout (BlockedLayout.swift); a call
// given NHWC tensors reorders them in and out (ConvPrimitive). Measured on a 2-vCPU Zen 4,
// batch 128 (README.md, "Speed"): 1.6x (32 channels) and 2.1x (64 channels) faster than
// the direct kernels per pass, no gain on 16 channels (95-127 GFLOP/s against the direct
// kernels' 175-197). There this engine runs its own F(2x2, 3x3) kernels for all three passes
// (Winograd16Convolution.swift).
//
// Its rounding differs from a direct convolution's (the input and weight transforms add
// and subtract before multiplying): results are a few ulps further from float64 and their
// last bits differ from oneDNN's direct engine's, which is why every manifest records it
// (`conv3x3_kernel: onednn-winograd`) and `cilbench diff` compares such runs by accuracy,
// not digests, with runs of the other engine.
import CDNNL

extension Conv3x3Kernel {
    /// Whether oneDNN offers its Winograd kernels on this CPU (as capped by DNNL_MAX_CPU_ISA).
    public static var cpuSupportsWinograd: Bool {
        // ISA values are bit sets: each one contains the bits of the ISAs it extends.
        dnnl_get_effective_cpu_isa().rawValue & dnnl_cpu_isa_avx512_core.rawValue == dnnl_cpu_isa_avx512_core.rawValue
    }
}

extension ComputeEngine {
    /// Whether a convolution of this geometry runs on oneDNN's Winograd kernels.
    func runsWinograd(_ g: Conv2DGeometry) -> Bool {
        conv3x3Kernel == .winograd && g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padding == 1
            && g.inChannels % 16 == 0 && g.outChannels % 16 == 0 && min(g.inChannels, g.outChannels) >= 32
    }
}
