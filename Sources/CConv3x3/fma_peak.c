// FP32 FMA throughput loop for the roofline of `cilbench bench`. Twelve independent
// accumulators hide the FMA latency (4-5 cycles) behind two FMA pipes; the values stay
// finite because each step multiplies by 1 and adds a tiny constant; the 1 is read through a
// volatile so that the compiler cannot turn the FMA into an add.
#include "fma_peak.h"
#include <immintrin.h>
#include <time.h>

static volatile const float unit = 1.0f;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

#define ROUNDS 4096

__attribute__((target("avx2,fma"))) static double avx2_rate(double seconds) {
    __m256 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm256_set1_ps((float)i);
    const __m256 one = _mm256_set1_ps(unit), tiny = _mm256_set1_ps(1e-7f);
    double start = now_seconds(), elapsed = 0;
    long long fmas = 0;
    do {
        for (int r = 0; r < ROUNDS; r++)
            for (int i = 0; i < 12; i++) a[i] = _mm256_fmadd_ps(a[i], one, tiny);
        fmas += 12LL * ROUNDS;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    float sink = 0;
    for (int i = 0; i < 12; i++) sink += _mm256_cvtss_f32(a[i]);
    __asm__ volatile("" : : "x"(sink));
    return (double)fmas * 8 * 2 / elapsed / 1e9;
}

__attribute__((target("avx512f"))) static double avx512_rate(double seconds) {
    __m512 a[12];
    for (int i = 0; i < 12; i++) a[i] = _mm512_set1_ps((float)i);
    const __m512 one = _mm512_set1_ps(unit), tiny = _mm512_set1_ps(1e-7f);
    double start = now_seconds(), elapsed = 0;
    long long fmas = 0;
    do {
        for (int r = 0; r < ROUNDS; r++)
            for (int i = 0; i < 12; i++) a[i] = _mm512_fmadd_ps(a[i], one, tiny);
        fmas += 12LL * ROUNDS;
        elapsed = now_seconds() - start;
    } while (elapsed < seconds);
    float sink = 0;
    for (int i = 0; i < 12; i++) sink += _mm512_reduce_add_ps(a[i]);
    __asm__ volatile("" : : "x"(sink));
    return (double)fmas * 16 * 2 / elapsed / 1e9;
}

double cil_fma_peak_gflops(double seconds, int *isa) {
    __builtin_cpu_init();
    double best = 0;
    int width = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        best = avx2_rate(seconds);
        width = 256;
    }
    if (__builtin_cpu_supports("avx512f")) {
        double r = avx512_rate(seconds);
        if (r > best) { best = r; width = 512; }
    }
    if (isa) *isa = width;
    return best;
}
