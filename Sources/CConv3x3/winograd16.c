// AVX-512 Winograd F(2x2, 3x3) forward convolution for 16 input and 16 output channels
// (see include/conv3x3.h for the contract): ResNet-32's first residual stage, where
// oneDNN 2.6 has no fast Winograd kernel and its direct one is bound by the FMA peak.
//
// Per image: a zero-bordered copy; then, for each run of 8 tiles (2x2 outputs, 4x4 inputs),
// the input transform V = B^T d B of each tile (one zmm holds a pixel's 16 channels), the
// 16 per-position products M[pos] = V[pos] . U[pos] (16x16, 8 accumulators sharing each
// weight row), and the output transform Y = A^T M A with the epilogue. The transforms only
// add and subtract, so a tile costs 256 FMAs against the direct method's 576.
// (Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016, section 4.)
//
// Every output is computed in one fixed order whatever the split of images over threads.
#include "conv3x3.h"
#include <immintrin.h>
#include <stdlib.h>
#include <string.h>

#define AVX512 __attribute__((target("avx512f")))
#define TILES 8

int cil_wino16_available(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f");
}

// U = G g G^T per (c, o), G = [[1,0,0],[1/2,1/2,1/2],[1/2,-1/2,1/2],[0,0,1]].
void cil_wino16_transform_weights(const float *w, float *u) {
    for (int c = 0; c < 16; c++)
        for (int o = 0; o < 16; o++) {
            float g[3][3], t[4][3];
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++) g[kh][kw] = w[((kh * 3 + kw) * 16 + c) * 16 + o];
            for (int kw = 0; kw < 3; kw++) {
                t[0][kw] = g[0][kw];
                t[1][kw] = 0.5f * (g[0][kw] + g[1][kw] + g[2][kw]);
                t[2][kw] = 0.5f * (g[0][kw] - g[1][kw] + g[2][kw]);
                t[3][kw] = g[2][kw];
            }
            for (int r = 0; r < 4; r++) {
                float *row = u + (size_t)(r * 4) * 256 + c * 16 + o;
                row[0 * 256] = t[r][0];
                row[1 * 256] = 0.5f * (t[r][0] + t[r][1] + t[r][2]);
                row[2 * 256] = 0.5f * (t[r][0] - t[r][1] + t[r][2]);
                row[3 * 256] = t[r][2];
            }
        }
}

// V = B^T d B of TILES tiles whose top-left input pixel is (2 ty, 2 tx0 + 2k) of `padded`,
// B^T = [[1,0,-1,0],[0,1,1,0],[0,-1,1,0],[0,1,0,-1]]; v[k][pos][16 channels].
AVX512 static inline void input_transform(const float *padded, int pw, int ty, int tx0, float *v) {
    for (int k = 0; k < TILES; k++) {
        const float *base = padded + ((size_t)(2 * ty) * pw + 2 * (tx0 + k)) * 16;
        __m512 t[4][4];
        for (int c = 0; c < 4; c++) {
            const __m512 d0 = _mm512_loadu_ps(base + (size_t)(0 * pw + c) * 16), d1 = _mm512_loadu_ps(base + (size_t)(1 * pw + c) * 16);
            const __m512 d2 = _mm512_loadu_ps(base + (size_t)(2 * pw + c) * 16), d3 = _mm512_loadu_ps(base + (size_t)(3 * pw + c) * 16);
            t[0][c] = _mm512_sub_ps(d0, d2);
            t[1][c] = _mm512_add_ps(d1, d2);
            t[2][c] = _mm512_sub_ps(d2, d1);
            t[3][c] = _mm512_sub_ps(d1, d3);
        }
        float *vk = v + (size_t)k * 256;
        for (int r = 0; r < 4; r++) {
            _mm512_storeu_ps(vk + (r * 4 + 0) * 16, _mm512_sub_ps(t[r][0], t[r][2]));
            _mm512_storeu_ps(vk + (r * 4 + 1) * 16, _mm512_add_ps(t[r][1], t[r][2]));
            _mm512_storeu_ps(vk + (r * 4 + 2) * 16, _mm512_sub_ps(t[r][2], t[r][1]));
            _mm512_storeu_ps(vk + (r * 4 + 3) * 16, _mm512_sub_ps(t[r][1], t[r][3]));
        }
    }
}

AVX512 static void run_tiles(const float *padded, int pw, int ty, int tx0, const float *u, const float *bias,
                             const float *residual, int relu, float *y, int width, float *v) {
    input_transform(padded, pw, ty, tx0, v);
    // Products per position: m[k][pos][o] = sum_c v[k][pos][c] * u[pos][c][o], c ascending.
    for (int pos = 0; pos < 16; pos++) {
        __m512 acc[TILES];
        for (int k = 0; k < TILES; k++) acc[k] = _mm512_setzero_ps();
        const float *up = u + (size_t)pos * 256;
        for (int c = 0; c < 16; c++) {
            const __m512 uc = _mm512_loadu_ps(up + c * 16);
            for (int k = 0; k < TILES; k++) acc[k] = _mm512_fmadd_ps(_mm512_set1_ps(v[(size_t)k * 256 + pos * 16 + c]), uc, acc[k]);
        }
        // In place: v[k][pos] is read for the last time above, so the products take its
        // slot and the working set (weights 16 KB, tiles 8 KB) stays inside a 32 KB L1.
        for (int k = 0; k < TILES; k++) _mm512_storeu_ps(v + (size_t)k * 256 + pos * 16, acc[k]);
    }
    // Output transforms, A^T = [[1,1,1,0],[0,1,-1,-1]], then bias, residual, ReLU.
    const __m512 b = bias ? _mm512_loadu_ps(bias) : _mm512_setzero_ps(), zero = _mm512_setzero_ps();
    for (int k = 0; k < TILES; k++) {
        const float *mk = v + (size_t)k * 256;
        __m512 s[2][4];
        for (int c = 0; c < 4; c++) {
            const __m512 m0 = _mm512_loadu_ps(mk + (0 * 4 + c) * 16), m1 = _mm512_loadu_ps(mk + (1 * 4 + c) * 16);
            const __m512 m2 = _mm512_loadu_ps(mk + (2 * 4 + c) * 16), m3 = _mm512_loadu_ps(mk + (3 * 4 + c) * 16);
            s[0][c] = _mm512_add_ps(_mm512_add_ps(m0, m1), m2);
            s[1][c] = _mm512_sub_ps(_mm512_sub_ps(m1, m2), m3);
        }
        for (int i = 0; i < 2; i++) {
            __m512 out[2];
            out[0] = _mm512_add_ps(_mm512_add_ps(s[i][0], s[i][1]), s[i][2]);
            out[1] = _mm512_sub_ps(_mm512_sub_ps(s[i][1], s[i][2]), s[i][3]);
            for (int j = 0; j < 2; j++) {
                const size_t at = ((size_t)(2 * ty + i) * width + 2 * (tx0 + k) + j) * 16;
                __m512 r = out[j];
                if (bias) r = _mm512_add_ps(r, b);
                if (residual) r = _mm512_add_ps(r, _mm512_loadu_ps(residual + at));
                if (relu) r = _mm512_max_ps(r, zero);
                _mm512_storeu_ps(y + at, r);
            }
        }
    }
}

// The image's rows into the interior of a zero-bordered (height+2) x (width+2) buffer.
static void copy_interior(const float *x, float *padded, int height, int width) {
    const int pw = width + 2;
    for (int h = 0; h < height; h++)
        memcpy(padded + ((size_t)(h + 1) * pw + 1) * 16, x + (size_t)h * width * 16, sizeof(float) * (size_t)width * 16);
}

int cil_wino16_forward(const float *x, const float *u, const float *bias, const float *residual, int relu,
                       float *y, int first, int last, int height, int width) {
    const int pw = width + 2;
    const size_t image = (size_t)height * width * 16;
    float *padded = aligned_alloc(64, sizeof(float) * (size_t)(height + 2) * pw * 16);
    float *v = aligned_alloc(64, sizeof(float) * TILES * 256);
    if (!padded || !v) {
        free(padded);
        free(v);
        return -1;
    }
    memset(padded, 0, sizeof(float) * (size_t)(height + 2) * pw * 16);
    for (int n = first; n < last; n++) {
        const float *xn = x + (size_t)n * image;
        copy_interior(xn, padded, height, width);
        for (int ty = 0; ty < height / 2; ty++)
            for (int tx0 = 0; tx0 < width / 2; tx0 += TILES)
                run_tiles(padded, pw, ty, tx0, u, bias, residual ? residual + (size_t)n * image : NULL, relu, y + (size_t)n * image,
                          width, v);
    }
    free(padded);
    free(v);
    return 0;
}

// Weight gradient: dU[pos][c][o] = sum over tiles of V[pos][c] * dM[pos][o] with dM = A dY A^T
// (A = [[1,0],[1,1],[1,-1],[0,-1]]), the transposes of the forward's two outer products;
// then dW = G^T dU G (cil_wino16_weight_gradient). Tiles are summed in image, row, column
// order into `du`, a caller's per-chunk partial.
AVX512 static void accumulate_tiles(const float *padded, int pw, int ty, int tx0, const float *dy, int width, float *du,
                                    float *v, float *dm) {
    input_transform(padded, pw, ty, tx0, v);
    for (int k = 0; k < TILES; k++) {
        const float *y0 = dy + ((size_t)(2 * ty) * width + 2 * (tx0 + k)) * 16, *y1 = y0 + (size_t)width * 16;
        const __m512 a = _mm512_loadu_ps(y0), b = _mm512_loadu_ps(y0 + 16), c = _mm512_loadu_ps(y1), d = _mm512_loadu_ps(y1 + 16);
        // Rows: r = (y0, y0 + y1, y0 - y1, -y1) per column; then the same across columns.
        const __m512 zero = _mm512_setzero_ps();
        const __m512 r[4][2] = {{a, b}, {_mm512_add_ps(a, c), _mm512_add_ps(b, d)}, {_mm512_sub_ps(a, c), _mm512_sub_ps(b, d)},
                                {_mm512_sub_ps(zero, c), _mm512_sub_ps(zero, d)}};
        float *mk = dm + (size_t)k * 256;
        for (int i = 0; i < 4; i++) {
            _mm512_storeu_ps(mk + (i * 4 + 0) * 16, r[i][0]);
            _mm512_storeu_ps(mk + (i * 4 + 1) * 16, _mm512_add_ps(r[i][0], r[i][1]));
            _mm512_storeu_ps(mk + (i * 4 + 2) * 16, _mm512_sub_ps(r[i][0], r[i][1]));
            _mm512_storeu_ps(mk + (i * 4 + 3) * 16, _mm512_sub_ps(zero, r[i][1]));
        }
    }
    for (int pos = 0; pos < 16; pos++) {
        __m512 acc[16];
        float *dup = du + (size_t)pos * 256;
        for (int c = 0; c < 16; c++) acc[c] = _mm512_loadu_ps(dup + c * 16);
        for (int k = 0; k < TILES; k++) {
            const __m512 g = _mm512_loadu_ps(dm + (size_t)k * 256 + pos * 16);
            const float *vk = v + (size_t)k * 256 + pos * 16;
            for (int c = 0; c < 16; c++) acc[c] = _mm512_fmadd_ps(_mm512_set1_ps(vk[c]), g, acc[c]);
        }
        for (int c = 0; c < 16; c++) _mm512_storeu_ps(dup + c * 16, acc[c]);
    }
}

int cil_wino16_backward_weights(const float *x, const float *dy, float *du, int first, int last, int height, int width) {
    const int pw = width + 2;
    const size_t image = (size_t)height * width * 16;
    float *padded = aligned_alloc(64, sizeof(float) * (size_t)(height + 2) * pw * 16);
    float *v = aligned_alloc(64, sizeof(float) * TILES * 256), *dm = aligned_alloc(64, sizeof(float) * TILES * 256);
    if (!padded || !v || !dm) {
        free(padded);
        free(v);
        free(dm);
        return -1;
    }
    memset(padded, 0, sizeof(float) * (size_t)(height + 2) * pw * 16);
    for (int n = first; n < last; n++) {
        copy_interior(x + (size_t)n * image, padded, height, width);
        for (int ty = 0; ty < height / 2; ty++)
            for (int tx0 = 0; tx0 < width / 2; tx0 += TILES)
                accumulate_tiles(padded, pw, ty, tx0, dy + (size_t)n * image, width, du, v, dm);
    }
    free(padded);
    free(v);
    free(dm);
    return 0;
}

// dW[o][c] = G^T dU[c][o] G, G^T = [[1,1/2,1/2,0],[0,1/2,-1/2,0],[0,1/2,1/2,1]]; dw is OIHW.
void cil_wino16_weight_gradient(const float *du, float *dw) {
    for (int c = 0; c < 16; c++)
        for (int o = 0; o < 16; o++) {
            float t[3][4];
            for (int s = 0; s < 4; s++) {
                const float u0 = du[((0 * 4 + s) * 16 + c) * 16 + o], u1 = du[((1 * 4 + s) * 16 + c) * 16 + o];
                const float u2 = du[((2 * 4 + s) * 16 + c) * 16 + o], u3 = du[((3 * 4 + s) * 16 + c) * 16 + o];
                t[0][s] = u0 + 0.5f * (u1 + u2);
                t[1][s] = 0.5f * (u1 - u2);
                t[2][s] = 0.5f * (u1 + u2) + u3;
            }
            float *w = dw + (size_t)(o * 16 + c) * 9;
            for (int kh = 0; kh < 3; kh++) {
                w[kh * 3 + 0] = t[kh][0] + 0.5f * (t[kh][1] + t[kh][2]);
                w[kh * 3 + 1] = 0.5f * (t[kh][1] - t[kh][2]);
                w[kh * 3 + 2] = 0.5f * (t[kh][1] + t[kh][2]) + t[kh][3];
            }
        }
}
