// Hand-written AVX2/FMA kernels for 3x3, stride-1, padding-1 convolutions on NHWC
// activations, the shape of nearly every convolution in ResNet-32 and ResNet-18; compared
// with oneDNN 2.6's jit:avx2 by `cilbench bench --compare-conv3x3`. Every function works
// on a range of images and
// accumulates in a fixed order (taps, then input channels, ascending), so a result never
// depends on how images are split over threads.
#ifndef CIL_CONV3X3_H
#define CIL_CONV3X3_H

/// 1 when this CPU has AVX2 and FMA (the kernels below must not be called otherwise).
int cil_conv3x3_available(void);

/// y[n][h][w][o] = relu?(bias[o] + residual[n][h][w][o] + sum_{kh,kw,c} xpad[n][h+kh][w+kw][c] * w[kh][kw][c][o])
/// for images first ..< last. `w` is HWIO ([3][3][C][O]); `bias` and `residual` may be NULL.
/// O must be a multiple of 16. Returns 0, or -1 when a scratch allocation failed.
int cil_conv3x3_forward(const float *x, const float *w, const float *bias, const float *residual, int relu,
                        float *y, int first, int last, int height, int width, int channels, int outChannels);

/// dw[kh][kw][c][o] += sum over images first ..< last and pixels of xpad[n][h+kh][w+kw][c] * dy[n][h][w][o].
/// `dw` is HWIO and is accumulated into (callers zero it). O must be a multiple of 16.
int cil_conv3x3_backward_weights(const float *x, const float *dy, float *dw, int first, int last,
                                 int height, int width, int channels, int outChannels);

/// 1 when this CPU has AVX-512F (the cil_wino16 functions must not be called otherwise).
int cil_wino16_available(void);

/// The Winograd F(2x2, 3x3) weights u[4x4 positions][16 c][16 o] of HWIO `w` ([3][3][16][16]).
void cil_wino16_transform_weights(const float *w, float *u);

/// As cil_conv3x3_forward for 16 input and 16 output channels by Winograd F(2x2, 3x3), with
/// `u` from cil_wino16_transform_weights; height must be even and width a multiple of 16.
int cil_wino16_forward(const float *x, const float *u, const float *bias, const float *residual, int relu,
                       float *y, int first, int last, int height, int width);

/// du[pos][c][o] += the Winograd F(2x2, 3x3) weight-gradient products of images first ..< last
/// (x and dy NHWC, 16 channels each); callers zero `du` ([16][16][16]) and sum partials.
int cil_wino16_backward_weights(const float *x, const float *dy, float *du, int first, int last, int height, int width);

/// OIHW dw ([16][16][3][3]) from the summed products `du`.
void cil_wino16_weight_gradient(const float *du, float *dw);

#endif
