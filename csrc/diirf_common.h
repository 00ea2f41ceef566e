// Host-side argument checks and geometry shared by the CPU (csrc/diirf.cpp) and CUDA
// (csrc/cuda/diirf.cu) wrappers of the DIIRF / FCAM-gate ops. The Python wrappers in
// fasfast/ops/diirf.py validate first with friendlier messages; these checks keep a
// direct torch.ops.fasfast.* call from reading out of bounds.
#pragma once

#include <torch/library.h>

#include <cstdint>

#include "common.h"

namespace fasfast {
namespace diirf {

// The op schemas of the family, declared once: in the `fasfast` library (csrc/diirf.cpp)
// and in the tests' emulated-CUDA library `fasfast_emu` (csrc/emu/emu_module.cpp). The
// backward ops are internal (underscore names): the autograd formulas of the forward ops
// call them, and their own formulas refuse a second derivative (fasfast/ops/diirf.py).
inline void define_ops(torch::Library& m) {
  // y = DIIRF(z): z [N, T, H, W] or [N, T, C, H, W]; b [3]; a [2].
  m.def("diirf(Tensor z, Tensor b, Tensor a) -> Tensor", {at::Tag::pt2_compliant_tag});
  // (grad_z, grad_b, grad_a) of diirf.
  m.def("_diirf_backward(Tensor grad_y, Tensor z, Tensor b, Tensor a) -> (Tensor, Tensor, Tensor)",
        {at::Tag::pt2_compliant_tag});
  // out = x * sigmoid(diirf(z, b, a)).unsqueeze(2): x [N, T, C, H, W]; z [N, T, H, W].
  m.def("fcam_gate(Tensor x, Tensor z, Tensor b, Tensor a) -> Tensor",
        {at::Tag::pt2_compliant_tag});
  // (grad_x, grad_z, grad_b, grad_a) of fcam_gate.
  m.def(
      "_fcam_gate_backward(Tensor grad_out, Tensor x, Tensor z, Tensor b, Tensor a) "
      "-> (Tensor, Tensor, Tensor, Tensor)",
      {at::Tag::pt2_compliant_tag});
}

// z viewed as [N, T, P]: P = H*W for z [N, T, H, W], C*H*W for z [N, T, C, H, W].
struct Geometry {
  int64_t N = 0, T = 0, C = 1, P = 0;
};

inline void check_coeffs(const at::Tensor& z, const at::Tensor& b, const at::Tensor& a,
                         const char* op) {
  TORCH_CHECK(b.dim() == 1 && b.numel() == 3, op, ": b must hold exactly 3 coefficients, got shape ",
              b.sizes());
  TORCH_CHECK(a.dim() == 1 && a.numel() == 2, op, ": a must hold exactly 2 coefficients, got shape ",
              a.sizes());
  TORCH_CHECK(b.device() == z.device() && a.device() == z.device(), op,
              ": b and a must be on z's device ", z.device(), ", got b on ", b.device(), " and a on ",
              a.device());
  TORCH_CHECK(b.scalar_type() == a.scalar_type(), op, ": b and a must share a dtype, got ",
              b.scalar_type(), " and ", a.scalar_type());
  const bool half = z.scalar_type() == at::kHalf || z.scalar_type() == at::kBFloat16;
  const auto want = half ? at::kFloat : z.scalar_type();
  TORCH_CHECK(b.scalar_type() == want, op, ": coefficients must be ", want, " for z of dtype ",
              z.scalar_type(), ", got ", b.scalar_type());
}

// Checks z [N, T, H, W] or [N, T, C, H, W] with b [3], a [2]; returns z as [N, T, P].
inline Geometry diirf_geometry(const at::Tensor& z, const at::Tensor& b, const at::Tensor& a,
                               const char* op) {
  TORCH_CHECK(z.dim() == 4 || z.dim() == 5, op,
              ": z must have rank 4 [N, T, H, W] or 5 [N, T, C, H, W], got shape ", z.sizes());
  TORCH_CHECK(z.size(1) > 0, op, ": z has T = 0 frames");
  check_coeffs(z, b, a, op);
  Geometry g;
  g.N = z.size(0);
  g.T = z.size(1);
  g.P = 1;
  for (int64_t d = 2; d < z.dim(); ++d) g.P *= z.size(d);
  return g;
}

// Checks x [N, T, C, H, W] and z [N, T, H, W]; returns (N, T, C, P = H*W).
inline Geometry fcam_geometry(const at::Tensor& x, const at::Tensor& z, const at::Tensor& b,
                              const at::Tensor& a, const char* op) {
  TORCH_CHECK(x.dim() == 5, op, ": x must have rank 5 [N, T, C, H, W], got shape ", x.sizes());
  TORCH_CHECK(z.dim() == 4, op, ": z must have rank 4 [N, T, H, W], got shape ", z.sizes());
  TORCH_CHECK(x.size(0) == z.size(0) && x.size(1) == z.size(1) && x.size(3) == z.size(2) &&
                  x.size(4) == z.size(3),
              op, ": x ", x.sizes(), " and z ", z.sizes(), " must agree in N, T, H and W");
  TORCH_CHECK(x.device() == z.device(), op, ": x and z must be on one device");
  TORCH_CHECK(x.scalar_type() == z.scalar_type(), op, ": x and z must share a dtype, got ",
              x.scalar_type(), " and ", z.scalar_type());
  Geometry g = diirf_geometry(z, b, a, op);
  g.C = x.size(2);
  return g;
}

}  // namespace diirf
}  // namespace fasfast
