// AVX2/FMA direct 3x3 convolution kernels; see include/conv3x3.h for the contract.
//
// Forward: each image is copied once into a zero-bordered buffer, so no tap needs a bounds
// test. Output pixels are taken six at a time (in row-major order, across row ends) against
// sixteen output channels: 12 accumulators, two weight vectors and one broadcast fill the
// sixteen ymm registers. Backward-data is this forward on the output gradient with the
// kernel flipped and its channel axes swapped (done by the caller).
// Backward-weights: for each tap and block of input channels, a run over the image's pixels
// keeps a block of dw in registers (up to 6 input channels x 16 output channels), summed
// per image from zero and then added to dw, so no sum runs longer than one image's pixels.
#include "conv3x3.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,fma")))

int cil_conv3x3_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

static void pad_image(const float *x, float *padded, int height, int width, int channels) {
    int pw = width + 2;
    memset(padded, 0, sizeof(float) * (size_t)(height + 2) * pw * channels);
    for (int h = 0; h < height; h++)
        memcpy(padded + ((size_t)(h + 1) * pw + 1) * channels, x + (size_t)h * width * channels,
               sizeof(float) * (size_t)width * channels);
}

#define PIXELS 6

AVX2 static inline void store_block(__m256 a0, __m256 a1, float *y, const float *bias, const float *residual, int relu) {
    if (bias) { a0 = _mm256_add_ps(a0, _mm256_loadu_ps(bias)); a1 = _mm256_add_ps(a1, _mm256_loadu_ps(bias + 8)); }
    if (residual) { a0 = _mm256_add_ps(a0, _mm256_loadu_ps(residual)); a1 = _mm256_add_ps(a1, _mm256_loadu_ps(residual + 8)); }
    if (relu) { __m256 z = _mm256_setzero_ps(); a0 = _mm256_max_ps(a0, z); a1 = _mm256_max_ps(a1, z); }
    _mm256_storeu_ps(y, a0);
    _mm256_storeu_ps(y + 8, a1);
}

AVX2 static void forward_image(const float *padded, const int *offset, const float *w, const float *bias, const float *residual,
                               int relu, float *y, int height, int width, int channels, int outChannels) {
    const int pixels = height * width, pw = width + 2, C = channels, O = outChannels;
    for (int ob = 0; ob < O; ob += 16) {
        const float *bb = bias ? bias + ob : NULL;
        int p = 0;
        for (; p + PIXELS <= pixels; p += PIXELS) {
            __m256 a[PIXELS][2];
            for (int r = 0; r < PIXELS; r++) { a[r][0] = _mm256_setzero_ps(); a[r][1] = _mm256_setzero_ps(); }
            const float *base[PIXELS];
            for (int r = 0; r < PIXELS; r++) base[r] = padded + offset[p + r];
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    const int tap = (kh * pw + kw) * C;
                    const float *wt = w + (size_t)(kh * 3 + kw) * C * O + ob;
                    for (int c = 0; c < C; c++) {
                        const __m256 w0 = _mm256_loadu_ps(wt + (size_t)c * O), w1 = _mm256_loadu_ps(wt + (size_t)c * O + 8);
                        for (int r = 0; r < PIXELS; r++) {
                            const __m256 v = _mm256_broadcast_ss(base[r] + tap + c);
                            a[r][0] = _mm256_fmadd_ps(v, w0, a[r][0]);
                            a[r][1] = _mm256_fmadd_ps(v, w1, a[r][1]);
                        }
                    }
                }
            for (int r = 0; r < PIXELS; r++) {
                const size_t at = (size_t)(p + r) * O + ob;
                store_block(a[r][0], a[r][1], y + at, bb, residual ? residual + at : NULL, relu);
            }
        }
        for (; p < pixels; p++) {
            __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) {
                    const float *px = padded + offset[p] + (kh * pw + kw) * C;
                    const float *wt = w + (size_t)(kh * 3 + kw) * C * O + ob;
                    for (int c = 0; c < C; c++) {
                        const __m256 v = _mm256_broadcast_ss(px + c);
                        a0 = _mm256_fmadd_ps(v, _mm256_loadu_ps(wt + (size_t)c * O), a0);
                        a1 = _mm256_fmadd_ps(v, _mm256_loadu_ps(wt + (size_t)c * O + 8), a1);
                    }
                }
            const size_t at = (size_t)p * O + ob;
            store_block(a0, a1, y + at, bb, residual ? residual + at : NULL, relu);
        }
    }
}

static int *pixel_offsets(int height, int width, int channels) {
    int *offset = malloc(sizeof(int) * (size_t)height * width);
    if (!offset) return NULL;
    for (int h = 0; h < height; h++)
        for (int w = 0; w < width; w++) offset[h * width + w] = (h * (width + 2) + w) * channels;
    return offset;
}

int cil_conv3x3_forward(const float *x, const float *w, const float *bias, const float *residual, int relu,
                        float *y, int first, int last, int height, int width, int channels, int outChannels) {
    const size_t in = (size_t)height * width * channels, out = (size_t)height * width * outChannels;
    float *padded = aligned_alloc(64, ((sizeof(float) * (size_t)(height + 2) * (width + 2) * channels + 63) / 64) * 64);
    int *offset = pixel_offsets(height, width, channels);
    if (!padded || !offset) { free(padded); free(offset); return -1; }
    for (int n = first; n < last; n++) {
        pad_image(x + n * in, padded, height, width, channels);
        forward_image(padded, offset, w, bias, residual ? residual + n * out : NULL, relu, y + n * out,
                      height, width, channels, outChannels);
    }
    free(padded);
    free(offset);
    return 0;
}

// dw[tap][c0 + i][ob ..< ob + 16] += sum_p xpad[offset[p] + tapOffset + c0 + i] * dy[p][ob ..< ob + 16], i < CB.
#define WEIGHTS_BLOCK(CB)                                                                                        \
    AVX2 static void weights_block_##CB(const float *padded, const int *offset, const float *dy, float *dw,      \
                                        int pixels, int tapOffset, int c0, int O, int ob) {                      \
        __m256 a[CB][2];                                                                                         \
        for (int i = 0; i < CB; i++) { a[i][0] = _mm256_setzero_ps(); a[i][1] = _mm256_setzero_ps(); }          \
        for (int p = 0; p < pixels; p++) {                                                                       \
            const __m256 g0 = _mm256_loadu_ps(dy + (size_t)p * O + ob), g1 = _mm256_loadu_ps(dy + (size_t)p * O + ob + 8); \
            const float *px = padded + offset[p] + tapOffset + c0;                                               \
            for (int i = 0; i < CB; i++) {                                                                       \
                const __m256 v = _mm256_broadcast_ss(px + i);                                                    \
                a[i][0] = _mm256_fmadd_ps(v, g0, a[i][0]);                                                       \
                a[i][1] = _mm256_fmadd_ps(v, g1, a[i][1]);                                                       \
            }                                                                                                    \
        }                                                                                                        \
        for (int i = 0; i < CB; i++) {                                                                           \
            float *d = dw + (size_t)(c0 + i) * O + ob;                                                           \
            _mm256_storeu_ps(d, _mm256_add_ps(_mm256_loadu_ps(d), a[i][0]));                                     \
            _mm256_storeu_ps(d + 8, _mm256_add_ps(_mm256_loadu_ps(d + 8), a[i][1]));                             \
        }                                                                                                        \
    }
WEIGHTS_BLOCK(6)
WEIGHTS_BLOCK(4)
WEIGHTS_BLOCK(2)
WEIGHTS_BLOCK(1)

int cil_conv3x3_backward_weights(const float *x, const float *dy, float *dw, int first, int last,
                                 int height, int width, int channels, int outChannels) {
    const size_t in = (size_t)height * width * channels, out = (size_t)height * width * outChannels;
    const int C = channels, O = outChannels, pw = width + 2, pixels = height * width;
    float *padded = aligned_alloc(64, ((sizeof(float) * (size_t)(height + 2) * pw * channels + 63) / 64) * 64);
    int *offset = pixel_offsets(height, width, channels);
    if (!padded || !offset) { free(padded); free(offset); return -1; }
    for (int n = first; n < last; n++) {
        pad_image(x + n * in, padded, height, width, channels);
        const float *g = dy + n * out;
        for (int kh = 0; kh < 3; kh++)
            for (int kw = 0; kw < 3; kw++) {
                float *dwTap = dw + (size_t)(kh * 3 + kw) * C * O;
                const int tapOffset = (kh * pw + kw) * C;
                for (int ob = 0; ob < O; ob += 16) {
                    int c0 = 0;
                    for (; c0 + 6 <= C; c0 += 6) weights_block_6(padded, offset, g, dwTap, pixels, tapOffset, c0, O, ob);
                    for (; c0 + 4 <= C; c0 += 4) weights_block_4(padded, offset, g, dwTap, pixels, tapOffset, c0, O, ob);
                    for (; c0 + 2 <= C; c0 += 2) weights_block_2(padded, offset, g, dwTap, pixels, tapOffset, c0, O, ob);
                    for (; c0 < C; c0 += 1) weights_block_1(padded, offset, g, dwTap, pixels, tapOffset, c0, O, ob);
                }
            }
    }
    free(padded);
    free(offset);
    return 0;
}
