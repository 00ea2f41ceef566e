// Host-side argument parsing, checks and layout shared by the CPU (csrc/pyramid.cpp) and
// CUDA (csrc/cuda/pyramid.cu) wrappers of the residual-pyramid ops. The Python wrappers
// in fasfast/ops/pyramid.py validate first with friendlier messages; these checks keep a
// direct torch.ops.fasfast.* call from reading out of bounds. Device/dtype checks stay
// with each backend.
#pragma once

#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common.h"
#include "pyramid_math.h"

namespace fasfast {
namespace pyramid {

// The op schemas of the family, declared once: in the `fasfast` library (csrc/pyramid.cpp)
// and in the tests' emulated-CUDA library `fasfast_emu` (csrc/emu/emu_module.cpp). The
// backward ops are internal (underscore names), called by the forward ops' autograd
// formulas (fasfast/ops/pyramid.py).
inline void define_ops(torch::Library& m) {
  m.def("upsample_sub(Tensor hi, Tensor lo, str mode) -> Tensor");
  m.def("_upsample_sub_backward(Tensor grad, str mode) -> Tensor");
  m.def("pool_concat(Tensor[] tensors, str kind, bool with_indices) -> (Tensor, Tensor)");
  m.def(
      "_pool_concat_backward(Tensor grad, Tensor indices, SymInt[] offsets, SymInt[] channels, "
      "SymInt[] ratios, str kind) -> Tensor[]");
}

inline int parse_mode(c10::string_view mode) {
  if (mode == "bilinear") return kBilinear;
  if (mode == "nearest") return kNearest;
  TORCH_CHECK(false, "fasfast::upsample_sub: mode must be 'nearest' or 'bilinear', got '",
              std::string(mode), "'");
  return 0;
}

inline int parse_kind(c10::string_view kind) {
  if (kind == "max") return kMax;
  if (kind == "avg") return kAvg;
  TORCH_CHECK(false, "fasfast::pool_concat: kind must be 'max' or 'avg', got '", std::string(kind),
              "'");
  return 0;
}

// Where each pool_concat input lands: output [n, ctot, h, w]; input i is pooled by
// ratios[i] into channels [offsets[i], offsets[i] + C_i).
struct PoolLayout {
  int64_t n = 0, h = 0, w = 0, ctot = 0, max_ratio = 1;
  std::vector<int64_t> offsets, ratios;
};

inline PoolLayout pool_layout(const std::vector<at::Tensor>& ts) {
  TORCH_CHECK(!ts.empty(), "fasfast::pool_concat: needs a non-empty list of tensors");
  PoolLayout L;
  for (const auto& t : ts) {
    TORCH_CHECK(t.dim() == 4, "fasfast::pool_concat: every tensor must be [N, C, H, W], got ",
                t.sizes());
  }
  L.n = ts[0].size(0);
  L.h = ts[0].size(2);
  L.w = ts[0].size(3);
  for (const auto& t : ts) {
    TORCH_CHECK(t.size(0) == L.n, "fasfast::pool_concat: batch sizes differ");
    TORCH_CHECK(t.scalar_type() == ts[0].scalar_type() && t.device() == ts[0].device(),
                "fasfast::pool_concat: tensors must share dtype and device");
    L.h = std::min(L.h, t.size(2));
    L.w = std::min(L.w, t.size(3));
  }
  TORCH_CHECK(L.h > 0 && L.w > 0, "fasfast::pool_concat: empty spatial size");
  for (const auto& t : ts) {
    const int64_t r = t.size(2) / L.h;
    TORCH_CHECK(t.size(2) == r * L.h && t.size(3) == r * L.w,
                "fasfast::pool_concat: size ", t.size(2), "x", t.size(3),
                " is not the same integer multiple of the smallest size ", L.h, "x", L.w);
    L.offsets.push_back(L.ctot);
    L.ratios.push_back(r);
    L.ctot += t.size(1);
    L.max_ratio = std::max(L.max_ratio, r);
  }
  return L;
}

// The arg-max index dtype: a uint8 offset inside the window while r*r fits, else int32.
inline at::ScalarType index_dtype(int64_t max_ratio) {
  return max_ratio <= 16 ? at::kByte : at::kInt;
}

// Checks the arguments of pool_concat_backward against grad [N, C, h, w]; returns whether
// the arg-max indices are needed (max pooling with some ratio > 1), checking them if so.
inline bool check_pool_concat_backward(const at::Tensor& grad, const at::Tensor& indices,
                                       at::IntArrayRef offsets, at::IntArrayRef channels,
                                       at::IntArrayRef ratios, int kind) {
  TORCH_CHECK(grad.dim() == 4, "_pool_concat_backward: grad must be [N, C, h, w]");
  TORCH_CHECK(offsets.size() == channels.size() && offsets.size() == ratios.size(),
              "_pool_concat_backward: offsets, channels and ratios must have the same length");
  const int64_t ctot = grad.size(1);
  bool need_idx = false;
  for (size_t e = 0; e < ratios.size(); ++e) {
    TORCH_CHECK(ratios[e] >= 1 && offsets[e] >= 0 && channels[e] >= 0 &&
                    offsets[e] + channels[e] <= ctot,
                "_pool_concat_backward: entry ", e, " does not fit grad ", grad.sizes());
    need_idx = need_idx || (kind == kMax && ratios[e] > 1);
  }
  if (need_idx) {
    TORCH_CHECK(indices.sizes() == grad.sizes(),
                "_pool_concat_backward: max pooling needs the indices of the forward (shape ",
                grad.sizes(), "), got ", indices.sizes());
    TORCH_CHECK(indices.device() == grad.device() &&
                    (indices.scalar_type() == at::kByte || indices.scalar_type() == at::kInt),
                "_pool_concat_backward: indices must be uint8 or int32 on grad's device");
  }
  return need_idx;
}

}  // namespace pyramid
}  // namespace fasfast
