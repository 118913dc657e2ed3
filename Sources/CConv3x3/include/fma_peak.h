// The FP32 fused-multiply-add throughput of one core, measured: the ceiling every
// convolution figure of `cilbench bench --roofline` is a fraction of.
#ifndef CIL_FMA_PEAK_H
#define CIL_FMA_PEAK_H

/// Runs independent chains of packed FP32 FMAs on the calling thread for about `seconds`
/// and returns the achieved GFLOP/s (2 FLOP per lane per FMA). Uses 512-bit vectors when
/// the CPU has AVX-512F, else 256-bit AVX2/FMA, and takes the faster of the two where both
/// exist (on AMD Zen 4 they tie; on Intel cores with two 512-bit units AVX-512 doubles).
/// Returns 0 on a CPU without FMA. `isa` receives 512 or 256 (the width that won), or 0.
double cil_fma_peak_gflops(double seconds, int *isa);

#endif
