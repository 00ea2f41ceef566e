// Per-output-element math of the residual-pyramid operators, shared by the CPU
// kernels (csrc/pyramid.cpp) and the CUDA kernels (csrc/cuda/pyramid.cu).
//
// upsample_sub(hi, lo, mode):  out = hi - up2(lo), hi [N, C, 2H, 2W], lo [N, C, H, W]
//   bilinear: the numbers of F.interpolate(scale_factor=2, mode="bilinear",
//             align_corners=False): along each axis src = (d + 0.5) / 2 - 0.5, clamped at
//             0, second neighbour clamped to n - 1. For a factor of exactly 2 this gives
//               d = 0        : lo[0] * 1    + lo[min(1, n-1)] * 0
//               d = 2k, k>=1 : lo[k-1] * .25 + lo[k] * .75
//               d = 2k + 1   : lo[k] * .75   + lo[min(k+1, n-1)] * .25
//             and 2-D is (v00*wx0 + v01*wx1)*wy0 + (v10*wx0 + v11*wx1)*wy1 (ATen's order).
//   nearest:  up2(lo)[y, x] = lo[y / 2, x / 2].
//   backward: grad_hi = grad; grad_lo = -U^T grad, evaluated in gather form: lo sample j of
//             an axis of n samples receives from hi samples 2j-1 .. 2j+2 (bilinear; at most 4)
//             or 2j .. 2j+1 (nearest), so every lo element is written once (no atomics);
//             bilinear sums along H first, then along W.
//
// pool_concat(tensors, kind): every input pooled by its ratio r to the smallest size
//   (kernel = stride = r, no padding) and written at its channel offset of the output.
//   max: first maximum in row-major scan order wins (strict >); a NaN always replaces the
//        running value, so the last NaN of a window is the arg-max (as ATen's max_pool2d).
//        The arg-max is kept as the local offset dy * r + dx inside the window.
//   avg: (sum in row-major order) / (r * r), as ATen's avg_pool2d without padding.
//   backward: gather form per input element: max -> grad if its local offset is the
//        stored arg-max else 0; avg -> grad / (r * r). (The CPU kernel zero-fills a window row
//        and writes grad at window_offset(arg), the same numbers.)
#pragma once

#include <cstdint>
#include <limits>

#include "common.h"

namespace fasfast {
namespace pyramid {

enum UpMode : int { kNearest = 0, kBilinear = 1 };
enum PoolKind : int { kMax = 0, kAvg = 1 };

// ---------------------------------------------------------------- upsample_sub forward

// The two source samples and weights of output sample d of an axis up-sampled 2x from n.
template <typename acc_t>
struct UpTap {
  int64_t i0, i1;
  acc_t w0, w1;
};

template <typename acc_t>
FASFAST_HD UpTap<acc_t> bilinear_up_tap(int64_t d, int64_t n) {
  UpTap<acc_t> t;
  const int64_t k = d >> 1;
  if (d & 1) {
    t.i0 = k;
    t.i1 = k < n - 1 ? k + 1 : k;
    t.w0 = acc_t(0.75);
    t.w1 = acc_t(0.25);
  } else if (k == 0) {
    t.i0 = 0;
    t.i1 = n > 1 ? 1 : 0;
    t.w0 = acc_t(1);
    t.w1 = acc_t(0);
  } else {
    t.i0 = k - 1;
    t.i1 = k;
    t.w0 = acc_t(0.25);
    t.w1 = acc_t(0.75);
  }
  return t;
}

FASFAST_HD int64_t nearest_up_index(int64_t d) { return d >> 1; }

// Two-tap interpolation v0 * w0 + v1 * w1 (one axis).
template <typename acc_t>
FASFAST_HD acc_t lerp2(acc_t v0, acc_t v1, acc_t w0, acc_t w1) {
  return v0 * w0 + v1 * w1;
}

// Bilinear value from the 4 neighbours (rows 0/1, columns 0/1) in ATen's order: along W
// first, then along H. (The CPU kernel computes the W pass once per lo row and reuses it.)
template <typename acc_t>
FASFAST_HD acc_t bilinear_blend(acc_t v00, acc_t v01, acc_t v10, acc_t v11, acc_t wy0, acc_t wy1,
                                acc_t wx0, acc_t wx1) {
  return lerp2(lerp2(v00, v01, wx0, wx1), lerp2(v10, v11, wx0, wx1), wy0, wy1);
}

template <typename acc_t>
FASFAST_HD acc_t upsample_sub_value(acc_t hi, acc_t up) {
  return hi - up;
}

// One output element (y, x) of upsample_sub for a plane: lo is [h, w] contiguous.
template <typename acc_t, typename scalar_t>
FASFAST_HD acc_t upsample_sub_element(acc_t hi, const scalar_t* lo, int64_t h, int64_t w,
                                      int64_t y, int64_t x, int mode) {
  if (mode == kNearest) {
    const int64_t src = nearest_up_index(y) * w + nearest_up_index(x);
    return upsample_sub_value(hi, static_cast<acc_t>(lo[src]));
  }
  const UpTap<acc_t> ty = bilinear_up_tap<acc_t>(y, h);
  const UpTap<acc_t> tx = bilinear_up_tap<acc_t>(x, w);
  const scalar_t* r0 = lo + ty.i0 * w;
  const scalar_t* r1 = lo + ty.i1 * w;
  const acc_t up = bilinear_blend(static_cast<acc_t>(r0[tx.i0]), static_cast<acc_t>(r0[tx.i1]),
                                  static_cast<acc_t>(r1[tx.i0]), static_cast<acc_t>(r1[tx.i1]),
                                  ty.w0, ty.w1, tx.w0, tx.w1);
  return upsample_sub_value(hi, up);
}

// ---------------------------------------------------------------- upsample_sub backward

// The hi samples d0 .. d0+cnt-1 (with weights w) that feed lo sample j of an axis of n.
template <typename acc_t>
struct AdjTaps {
  int64_t d0;
  int cnt;
  acc_t w[4];
};

template <typename acc_t>
FASFAST_HD AdjTaps<acc_t> bilinear_adjoint_taps(int64_t j, int64_t n) {
  AdjTaps<acc_t> t;
  t.w[3] = acc_t(0);
  if (n == 1) {
    t.d0 = 0;
    t.cnt = 2;
    t.w[0] = acc_t(1);
    t.w[1] = acc_t(1);
    t.w[2] = acc_t(0);
  } else if (j == 0) {
    t.d0 = 0;
    t.cnt = 3;
    t.w[0] = acc_t(1);
    t.w[1] = acc_t(0.75);
    t.w[2] = acc_t(0.25);
  } else if (j == n - 1) {
    t.d0 = 2 * j - 1;
    t.cnt = 3;
    t.w[0] = acc_t(0.25);
    t.w[1] = acc_t(0.75);
    t.w[2] = acc_t(1);
  } else {
    t.d0 = 2 * j - 1;
    t.cnt = 4;
    t.w[0] = acc_t(0.25);
    t.w[1] = acc_t(0.75);
    t.w[2] = acc_t(0.75);
    t.w[3] = acc_t(0.25);
  }
  return t;
}

// Interior 4-tap sum in the order the generic path uses: ((v0 w0 + v1 w1) + v2 w2) + v3 w3.
template <typename acc_t>
FASFAST_HD acc_t taps4(acc_t v0, acc_t v1, acc_t v2, acc_t v3, acc_t w0, acc_t w1, acc_t w2,
                       acc_t w3) {
  return ((v0 * w0 + v1 * w1) + v2 * w2) + v3 * w3;
}

// Vertical pass of the adjoint: sum_a wy[a] * g[a * w2] (left to right), g at row ty.d0.
// (The loops run to the fixed bound 4 with a guard, so that they unroll and the taps stay
// in registers on the GPU: a loop to `cnt` indexes the arrays at run time, in local memory.)
template <typename acc_t, typename scalar_t>
FASFAST_HD acc_t adjoint_column(const scalar_t* g, int64_t w2, const AdjTaps<acc_t>& ty) {
  acc_t s = static_cast<acc_t>(g[0]) * ty.w[0];
#pragma unroll
  for (int a = 1; a < 4; ++a) {
    if (a < ty.cnt) s = s + static_cast<acc_t>(g[a * w2]) * ty.w[a];
  }
  return s;
}

// Horizontal pass of the adjoint over column sums v (v[0] is column tx.d0).
template <typename acc_t>
FASFAST_HD acc_t adjoint_taps(const acc_t* v, const AdjTaps<acc_t>& tx) {
  acc_t s = v[0] * tx.w[0];
#pragma unroll
  for (int b = 1; b < 4; ++b) {
    if (b < tx.cnt) s = s + v[b] * tx.w[b];
  }
  return s;
}

// grad_lo of one lo element from a grad plane g of width w2 (= 2 * lo width): minus the
// separable adjoint, H (rows) first, then W: -(sum_b wx[b] * (sum_a wy[a] * g[d0y + a, d0x + b])).
template <typename acc_t, typename scalar_t>
FASFAST_HD acc_t bilinear_adjoint_element(const scalar_t* g, int64_t w2, const AdjTaps<acc_t>& ty,
                                          const AdjTaps<acc_t>& tx) {
  acc_t col[4] = {acc_t(0), acc_t(0), acc_t(0), acc_t(0)};
  const scalar_t* base = g + ty.d0 * w2 + tx.d0;
#pragma unroll
  for (int b = 0; b < 4; ++b) {
    if (b < tx.cnt) col[b] = adjoint_column<acc_t>(base + b, w2, ty);
  }
  return -adjoint_taps<acc_t>(col, tx);
}

// Nearest adjoint: the 2x2 block of hi gradients, -((g00 + g01) + (g10 + g11)).
template <typename acc_t>
FASFAST_HD acc_t nearest_adjoint(acc_t g00, acc_t g01, acc_t g10, acc_t g11) {
  return -((g00 + g01) + (g10 + g11));
}

template <typename acc_t, typename scalar_t>
FASFAST_HD acc_t upsample_sub_adjoint_element(const scalar_t* g, int64_t h, int64_t w, int64_t j,
                                              int64_t i, int mode) {
  const int64_t w2 = 2 * w;
  if (mode == kNearest) {
    const scalar_t* r0 = g + (2 * j) * w2 + 2 * i;
    const scalar_t* r1 = r0 + w2;
    return nearest_adjoint(static_cast<acc_t>(r0[0]), static_cast<acc_t>(r0[1]),
                           static_cast<acc_t>(r1[0]), static_cast<acc_t>(r1[1]));
  }
  return bilinear_adjoint_element<acc_t>(g, w2, bilinear_adjoint_taps<acc_t>(j, h),
                                         bilinear_adjoint_taps<acc_t>(i, w));
}

// ---------------------------------------------------------------- pool_concat

// One running step of max pooling: value v at local offset k.
template <typename acc_t>
FASFAST_HD void max_step(acc_t v, int k, acc_t& best, int& arg) {
  const bool take = (v > best) || (v != v);
  best = take ? v : best;
  arg = take ? k : arg;
}

// Max over the r x r window whose top-left element is p (rows `stride` apart).
template <typename acc_t, typename scalar_t>
FASFAST_HD void max_window(const scalar_t* p, int64_t stride, int r, acc_t& best, int& arg) {
  best = -std::numeric_limits<acc_t>::infinity();
  arg = 0;
  for (int dy = 0; dy < r; ++dy) {
    for (int dx = 0; dx < r; ++dx) {
      max_step(static_cast<acc_t>(p[dy * stride + dx]), dy * r + dx, best, arg);
    }
  }
}

template <typename acc_t, typename scalar_t>
FASFAST_HD acc_t avg_window(const scalar_t* p, int64_t stride, int r) {
  acc_t sum = acc_t(0);
  for (int dy = 0; dy < r; ++dy) {
    for (int dx = 0; dx < r; ++dx) sum += static_cast<acc_t>(p[dy * stride + dx]);
  }
  return sum / static_cast<acc_t>(r * r);
}

// Offset of local window position k (= dy * r + dx) from the window's top-left element.
FASFAST_HD int64_t window_offset(int k, int r, int64_t stride) {
  return static_cast<int64_t>(k / r) * stride + k % r;
}

// Gradient of one input element at local offset k of its window.
template <typename acc_t>
FASFAST_HD acc_t max_route(acc_t g, int arg, int k) {
  return arg == k ? g : acc_t(0);
}

template <typename acc_t>
FASFAST_HD acc_t avg_route(acc_t g, int r) {
  return g / static_cast<acc_t>(r * r);
}

}  // namespace pyramid
}  // namespace fasfast
