// Per-pixel math of the DIIRF (differential IIR filter over frames) and of the fused
// FCAM gate, shared by the CPU kernels (csrc/diirf.cpp) and the CUDA kernels
// (csrc/cuda/diirf.cu). Everything here works on ONE pixel's values in the accumulator
// type `acc_t` (float for float32/float16/bfloat16 inputs, double for float64). Both builds
// round every product and sum separately: the CPU kernels are compiled without FP
// contraction and the CUDA sources with --fmad=false (nvcc would otherwise fuse a*b + c into
// one FMA), so the GPU runs the same IEEE operations in the same order as the CPU kernels
// and the emulated CUDA tests (tests/test_gpu_diirf.py checks them bitwise equal). Only
// exp_acc differs: CUDA's expf/exp are not correctly rounded (a few ulp).
//
// Forward, transposed direct form II, zero initial state (EulerNet eq. 1-3), n = 0..T-1:
//   y[n]  = b0*x[n] + h1
//   h1    = b1*x[n] + h2 - a1*y[n]
//   h2    = b2*x[n]      - a2*y[n]
// (= scipy.signal.lfilter(b, [1, a1, a2], x)).
//
// Adjoint (backward in time). With p1, p2 the adjoints of the states h1[n], h2[n]
// (zero after the last frame) and g[n] = dL/dy[n] from outside, step n does
//   lam      = g[n] - a1*p1 - a2*p2          (total dL/dy[n])
//   dL/dx[n] = b0*lam + b1*p1 + b2*p2
//   dL/db    += (lam*x[n], p1*x[n], p2*x[n]);  dL/da += (-p1*y[n], -p2*y[n])
//   p2 <- p1; p1 <- lam                     (adjoints of h2[n-1], h1[n-1])
// so it needs only x[n] and y[n] of the same step.
#pragma once

#include <cmath>

#include "common.h"

namespace fasfast {
namespace diirf {

// Filter coefficients in the accumulator type.
template <typename acc_t>
struct Coeffs {
  acc_t b0, b1, b2, a1, a2;
};

// Forward state of one pixel (zero-initialised = zero initial state).
template <typename acc_t>
struct State {
  acc_t h1 = acc_t(0);
  acc_t h2 = acc_t(0);
};

// Adjoint state of one pixel (zero after the last frame).
template <typename acc_t>
struct Adjoint {
  acc_t p1 = acc_t(0);
  acc_t p2 = acc_t(0);
};

// Coefficient-gradient accumulators of one pixel (or a reduction of many).
template <typename acc_t>
struct CoeffGrad {
  acc_t b0 = acc_t(0), b1 = acc_t(0), b2 = acc_t(0), a1 = acc_t(0), a2 = acc_t(0);

  FASFAST_HD void add(const CoeffGrad& o) {
    b0 += o.b0;
    b1 += o.b1;
    b2 += o.b2;
    a1 += o.a1;
    a2 += o.a2;
  }
};

// One forward step: consumes x[n], returns y[n] and advances the state.
template <typename acc_t>
FASFAST_HD acc_t forward_step(const Coeffs<acc_t>& c, State<acc_t>& s, acc_t x) {
  const acc_t y = c.b0 * x + s.h1;
  s.h1 = c.b1 * x + s.h2 - c.a1 * y;
  s.h2 = c.b2 * x - c.a2 * y;
  return y;
}

// One adjoint step at frame n (called for n = T-1 down to 0): g = dL/dy[n] from outside,
// x = x[n], y = y[n]. Returns dL/dx[n]; accumulates the coefficient gradients into `gc`.
template <typename acc_t>
FASFAST_HD acc_t adjoint_step(const Coeffs<acc_t>& c, Adjoint<acc_t>& adj, CoeffGrad<acc_t>& gc,
                              acc_t g, acc_t x, acc_t y) {
  const acc_t p1 = adj.p1;
  const acc_t p2 = adj.p2;
  const acc_t lam = g - c.a1 * p1 - c.a2 * p2;
  const acc_t gx = c.b0 * lam + c.b1 * p1 + c.b2 * p2;
  gc.b0 += lam * x;
  gc.b1 += p1 * x;
  gc.b2 += p2 * x;
  gc.a1 -= p1 * y;
  gc.a2 -= p2 * y;
  adj.p2 = p1;
  adj.p1 = lam;
  return gx;
}

FASFAST_HD float exp_acc(float v) {
#if defined(__CUDA_ARCH__)
  return ::expf(v);
#else
  return std::exp(v);
#endif
}

FASFAST_HD double exp_acc(double v) {
#if defined(__CUDA_ARCH__)
  return ::exp(v);
#else
  return std::exp(v);
#endif
}

// The FCAM gate: sigmoid(y) = 1 / (1 + exp(-y)); exp overflow gives exactly 0 / 1.
template <typename acc_t>
FASFAST_HD acc_t sigmoid(acc_t y) {
  return acc_t(1) / (acc_t(1) + exp_acc(-y));
}

// Gated output of one element: x * gate.
template <typename acc_t>
FASFAST_HD acc_t gate_forward(acc_t x, acc_t gate) {
  return x * gate;
}

// Backward of out = x * gate for one element: returns dL/dx = g_out * gate and adds
// g_out * x to `g_gate` (the gate's gradient, summed over the channels it multiplies).
template <typename acc_t>
FASFAST_HD acc_t gate_backward(acc_t g_out, acc_t x, acc_t gate, acc_t& g_gate) {
  g_gate += g_out * x;
  return g_out * gate;
}

// Backward of gate = sigmoid(y): dL/dy from dL/dgate.
template <typename acc_t>
FASFAST_HD acc_t sigmoid_backward(acc_t g_gate, acc_t gate) {
  return g_gate * gate * (acc_t(1) - gate);
}

}  // namespace diirf
}  // namespace fasfast
