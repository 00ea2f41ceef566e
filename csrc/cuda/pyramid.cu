// CUDA kernels of the residual-pyramid operators (schemas: csrc/pyramid.cpp; per-element
// math: csrc/pyramid_math.h, the same functions the CPU kernels call).
//
// One thread per output element (grid-stride loops), consecutive threads along W so that
// loads and stores coalesce; the current stream; float32 / float64 / float16 / bfloat16
// with float32 (float64 for double) arithmetic. Index arithmetic in 32 bits
// (cuda::narrow_index_t) whenever every tensor fits, 64 bits otherwise; the grid-stride
// counter is 64-bit always (cuda::grid_stride). pool_concat handles up to kMaxInputs
// inputs per launch (their pointers, channel counts, offsets and ratios passed by value)
// and loops over chunks beyond that.
//
// Launches, the current stream and device checks go through cuda/cuda_common.cuh, so this
// file also compiles, unchanged, against the tests' emulated CUDA runtime (csrc/emu).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <string>
#include <vector>

#include "cuda/cuda_common.cuh"
#include "pyramid_common.h"
#include "pyramid_math.h"

namespace fasfast {
namespace {

using namespace fasfast::pyramid;
using cuda::fits_narrow;
using cuda::grid_stride;
using cuda::launch;
using cuda::narrow_index_t;

constexpr int kThreads = 256;
constexpr int kMaxInputs = 8;
constexpr int64_t kMaxBlocks = int64_t(1) << 30;

int64_t blocks_for(int64_t total) { return cuda::grid_blocks(total, kThreads, kMaxBlocks); }

// ------------------------------------------------------------------------- upsample_sub

template <typename scalar_t, typename index_t>
__global__ void __launch_bounds__(kThreads)
    upsample_sub_kernel(const scalar_t* __restrict__ hi, const scalar_t* __restrict__ lo,
                        scalar_t* __restrict__ out, index_t total, index_t h, index_t w, int mode) {
  using acc_t = at::opmath_type<scalar_t>;
  const index_t w2 = 2 * w, h2 = 2 * h;
  for (const index_t i : grid_stride<index_t>(total)) {
    const index_t x = i % w2;
    const index_t t = i / w2;
    const index_t y = t % h2;
    const index_t p = t / h2;
    const acc_t v = upsample_sub_element<acc_t>(static_cast<acc_t>(hi[i]), lo + p * h * w, h, w, y,
                                                x, mode);
    out[i] = static_cast<scalar_t>(v);
  }
}

template <typename scalar_t, typename index_t>
__global__ void __launch_bounds__(kThreads)
    upsample_sub_backward_kernel(const scalar_t* __restrict__ g, scalar_t* __restrict__ grad_lo,
                                 index_t total, index_t h, index_t w, int mode) {
  using acc_t = at::opmath_type<scalar_t>;
  for (const index_t i : grid_stride<index_t>(total)) {
    const index_t x = i % w;
    const index_t t = i / w;
    const index_t y = t % h;
    const index_t p = t / h;
    const acc_t v = upsample_sub_adjoint_element<acc_t>(g + p * 4 * h * w, h, w, y, x, mode);
    grad_lo[i] = static_cast<scalar_t>(v);
  }
}

void check_cuda(const at::Tensor& t, const char* op, const char* name) {
  cuda::check_device(t, op, name);
  TORCH_CHECK(t.is_floating_point(), op, ": ", name, " must be floating point, got ",
              t.scalar_type());
}

at::Tensor upsample_sub_cuda(const at::Tensor& hi, const at::Tensor& lo, c10::string_view mode) {
  const int m = parse_mode(mode);
  check_cuda(hi, "upsample_sub", "hi");
  check_cuda(lo, "upsample_sub", "lo");
  TORCH_CHECK(hi.device() == lo.device(), "upsample_sub: hi and lo are on different devices");
  TORCH_CHECK(hi.dim() == 4 && lo.dim() == 4, "upsample_sub: hi and lo must be [N, C, H, W]");
  TORCH_CHECK(hi.scalar_type() == lo.scalar_type(), "upsample_sub: hi and lo dtypes differ");
  TORCH_CHECK(hi.size(0) == lo.size(0) && hi.size(1) == lo.size(1) &&
                  hi.size(2) == 2 * lo.size(2) && hi.size(3) == 2 * lo.size(3),
              "upsample_sub: hi ", hi.sizes(), " must be [N, C, 2H, 2W] for lo ", lo.sizes());
  const c10::DeviceGuard guard(hi.device());
  const at::Tensor hc = hi.contiguous();
  const at::Tensor lc = lo.contiguous();
  at::Tensor out = at::empty(hi.sizes(), hi.options().memory_format(at::MemoryFormat::Contiguous));
  const int64_t total = out.numel();
  if (total == 0) return out;
  const int64_t h = lo.size(2), w = lo.size(3);
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, hi.scalar_type(),
                                  "fasfast::upsample_sub (CUDA)", [&] {
    auto run = [&](auto index_tag) {
      using index_t = decltype(index_tag);
      launch("fasfast::upsample_sub: upsample_sub_kernel", upsample_sub_kernel<scalar_t, index_t>,
             blocks_for(total), kThreads, 0, stream, hc.const_data_ptr<scalar_t>(),
             lc.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
             static_cast<index_t>(total), static_cast<index_t>(h), static_cast<index_t>(w), m);
    };
    if (fits_narrow(total)) {
      run(narrow_index_t{});
    } else {
      run(int64_t{});
    }
  });
  return out;
}

at::Tensor upsample_sub_backward_cuda(const at::Tensor& grad, c10::string_view mode) {
  const int m = parse_mode(mode);
  check_cuda(grad, "_upsample_sub_backward", "grad");
  TORCH_CHECK(grad.dim() == 4 && grad.size(2) % 2 == 0 && grad.size(3) % 2 == 0,
              "_upsample_sub_backward: grad must be [N, C, 2H, 2W], got ", grad.sizes());
  const c10::DeviceGuard guard(grad.device());
  const at::Tensor gc = grad.contiguous();
  const int64_t h = grad.size(2) / 2, w = grad.size(3) / 2;
  at::Tensor out = at::empty({grad.size(0), grad.size(1), h, w}, grad.options());
  const int64_t total = out.numel();
  if (total == 0) return out;
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                  "fasfast::upsample_sub_backward (CUDA)", [&] {
    auto run = [&](auto index_tag) {
      using index_t = decltype(index_tag);
      launch("fasfast::_upsample_sub_backward: upsample_sub_backward_kernel",
             upsample_sub_backward_kernel<scalar_t, index_t>, blocks_for(total), kThreads, 0,
             stream, gc.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
             static_cast<index_t>(total), static_cast<index_t>(h), static_cast<index_t>(w), m);
    };
    if (fits_narrow(gc.numel())) {
      run(narrow_index_t{});
    } else {
      run(int64_t{});
    }
  });
  return out;
}

// -------------------------------------------------------------------------- pool_concat

// Up to kMaxInputs inputs of one launch, passed by value. Channel offsets are relative to
// the launch's first output channel `c0`.
struct PoolSegments {
  const void* in[kMaxInputs];
  void* grad_in[kMaxInputs];
  int64_t chan[kMaxInputs];
  int64_t off[kMaxInputs + 1];  // off[count] = channels of the launch
  int64_t start[kMaxInputs + 1];  // backward: first element of each input (prefix of numel)
  int ratio[kMaxInputs];
  int count;
};

template <typename scalar_t, typename idx_t, typename index_t>
__global__ void __launch_bounds__(kThreads)
    pool_concat_kernel(PoolSegments seg, scalar_t* __restrict__ out, idx_t* __restrict__ idx,
                       index_t total, index_t ctot, index_t c0, index_t h, index_t w, int kind) {
  using acc_t = at::opmath_type<scalar_t>;
  const index_t cl = static_cast<index_t>(seg.off[seg.count]);
  for (const index_t i : grid_stride<index_t>(total)) {
    const index_t x = i % w;
    index_t t = i / w;
    const index_t y = t % h;
    t /= h;
    const index_t c = t % cl;
    const index_t n = t / cl;
    int e = 0;
    while (e + 1 < seg.count && c >= static_cast<index_t>(seg.off[e + 1])) ++e;
    const int r = seg.ratio[e];
    const index_t ck = static_cast<index_t>(seg.chan[e]);
    const index_t wk = w * r;
    const index_t plane = n * ck + (c - static_cast<index_t>(seg.off[e]));
    const scalar_t* in =
        static_cast<const scalar_t*>(seg.in[e]) + (plane * (h * r) + y * r) * wk + x * r;
    const index_t o = ((n * ctot + c0 + c) * h + y) * w + x;
    if (kind == kMax) {
      acc_t best;
      int arg;
      max_window<acc_t>(in, wk, r, best, arg);
      out[o] = static_cast<scalar_t>(best);
      if (idx != nullptr) idx[o] = static_cast<idx_t>(arg);
    } else {
      out[o] = static_cast<scalar_t>(avg_window<acc_t>(in, wk, r));
    }
  }
}

// One thread per input-gradient element of the launch's inputs (concatenated).
template <typename scalar_t, typename idx_t, typename index_t>
__global__ void __launch_bounds__(kThreads)
    pool_concat_backward_kernel(PoolSegments seg, const scalar_t* __restrict__ g,
                                const idx_t* __restrict__ idx, index_t total, index_t ctot,
                                index_t h, index_t w, int kind) {
  using acc_t = at::opmath_type<scalar_t>;
  for (const index_t i : grid_stride<index_t>(total)) {
    int e = 0;
    while (e + 1 < seg.count && i >= static_cast<index_t>(seg.start[e + 1])) ++e;
    const index_t local = i - static_cast<index_t>(seg.start[e]);
    const int r = seg.ratio[e];
    const index_t ck = static_cast<index_t>(seg.chan[e]);
    const index_t wk = w * r, hk = h * r;
    const index_t xx = local % wk;
    index_t t = local / wk;
    const index_t yy = t % hk;
    t /= hk;
    const index_t c = t % ck;
    const index_t n = t / ck;
    const index_t o = ((n * ctot + static_cast<index_t>(seg.off[e]) + c) * h + yy / r) * w + xx / r;
    const acc_t go = static_cast<acc_t>(g[o]);
    acc_t v;
    if (kind == kMax && r > 1) {
      v = max_route<acc_t>(go, static_cast<int>(idx[o]), static_cast<int>((yy % r) * r + xx % r));
    } else if (kind == kMax) {
      v = go;
    } else {
      v = avg_route<acc_t>(go, r);
    }
    static_cast<scalar_t*>(seg.grad_in[e])[local] = static_cast<scalar_t>(v);
  }
}

std::tuple<at::Tensor, at::Tensor> pool_concat_cuda(at::TensorList tensors, c10::string_view kind,
                                                    bool with_indices) {
  const int k = parse_kind(kind);
  std::vector<at::Tensor> ts;
  ts.reserve(tensors.size());
  for (const auto& t : tensors) {
    check_cuda(t, "pool_concat", "tensors");
    ts.push_back(t.contiguous());
  }
  const PoolLayout L = pool_layout(ts);
  const int64_t n = L.n, h = L.h, w = L.w, ctot = L.ctot;
  const std::vector<int64_t>& ratios = L.ratios;
  const std::vector<int64_t>& offsets = L.offsets;
  const c10::DeviceGuard guard(ts[0].device());
  bool small = true;
  for (const auto& t : ts) small = small && fits_narrow(t.numel());
  const auto opts = ts[0].options();
  const auto idx_dtype = index_dtype(L.max_ratio);
  at::Tensor out = at::empty({n, ctot, h, w}, opts);
  const bool want_idx = with_indices && k == kMax;
  at::Tensor idx = at::empty(want_idx ? at::IntArrayRef({n, ctot, h, w}) : at::IntArrayRef({0}),
                             opts.dtype(idx_dtype));
  if (out.numel() == 0) return {out, idx};
  small = small && fits_narrow(out.numel());
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(),
                                  "fasfast::pool_concat (CUDA)", [&] {
    auto run = [&](auto* ip, auto index_tag) {
      using idx_t = std::remove_pointer_t<decltype(ip)>;
      using index_t = decltype(index_tag);
      for (size_t first = 0; first < ts.size(); first += kMaxInputs) {
        PoolSegments seg{};
        seg.count = static_cast<int>(std::min<size_t>(kMaxInputs, ts.size() - first));
        int64_t cl = 0;
        for (int e = 0; e < seg.count; ++e) {
          const auto& t = ts[first + e];
          seg.in[e] = t.data_ptr<scalar_t>();
          seg.chan[e] = t.size(1);
          seg.ratio[e] = static_cast<int>(ratios[first + e]);
          seg.off[e] = cl;
          cl += t.size(1);
        }
        seg.off[seg.count] = cl;
        const int64_t total = n * cl * h * w;
        if (total == 0) continue;
        launch("fasfast::pool_concat: pool_concat_kernel",
               pool_concat_kernel<scalar_t, idx_t, index_t>, blocks_for(total), kThreads, 0,
               stream, seg, out.mutable_data_ptr<scalar_t>(), ip,
               static_cast<index_t>(total), static_cast<index_t>(ctot),
               static_cast<index_t>(offsets[first]), static_cast<index_t>(h),
               static_cast<index_t>(w), k);
      }
    };
    auto with_index_type = [&](auto* ip) {
      if (small) {
        run(ip, narrow_index_t{});
      } else {
        run(ip, int64_t{});
      }
    };
    if (!want_idx) {
      with_index_type(static_cast<uint8_t*>(nullptr));
    } else if (idx_dtype == at::kByte) {
      with_index_type(idx.data_ptr<uint8_t>());
    } else {
      with_index_type(idx.data_ptr<int32_t>());
    }
  });
  return {out, idx};
}

std::vector<at::Tensor> pool_concat_backward_cuda(const at::Tensor& grad, const at::Tensor& indices,
                                                  at::IntArrayRef offsets, at::IntArrayRef channels,
                                                  at::IntArrayRef ratios, c10::string_view kind) {
  const int k = parse_kind(kind);
  check_cuda(grad, "_pool_concat_backward", "grad");
  const bool need_idx = check_pool_concat_backward(grad, indices, offsets, channels, ratios, k);
  const c10::DeviceGuard guard(grad.device());
  const at::Tensor gc = grad.contiguous();
  const int64_t n = grad.size(0), ctot = grad.size(1), h = grad.size(2), w = grad.size(3);
  bool small = fits_narrow(gc.numel());
  std::vector<at::Tensor> outs;
  for (size_t e = 0; e < ratios.size(); ++e) {
    outs.push_back(at::empty({n, channels[e], h * ratios[e], w * ratios[e]}, grad.options()));
  }
  const at::Tensor ic = need_idx ? indices.contiguous() : indices;
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, grad.scalar_type(),
                                  "fasfast::pool_concat_backward (CUDA)", [&] {
    auto run = [&](const auto* ip, auto index_tag) {
      using idx_t = std::remove_const_t<std::remove_pointer_t<decltype(ip)>>;
      using index_t = decltype(index_tag);
      for (size_t first = 0; first < outs.size(); first += kMaxInputs) {
        PoolSegments seg{};
        seg.count = static_cast<int>(std::min<size_t>(kMaxInputs, outs.size() - first));
        int64_t total = 0;
        for (int e = 0; e < seg.count; ++e) {
          const auto& gi = outs[first + e];
          seg.grad_in[e] = gi.data_ptr<scalar_t>();
          seg.chan[e] = channels[first + e];
          seg.off[e] = offsets[first + e];
          seg.ratio[e] = static_cast<int>(ratios[first + e]);
          seg.start[e] = total;
          total += gi.numel();
        }
        seg.start[seg.count] = total;
        if (total == 0) continue;
        launch("fasfast::_pool_concat_backward: pool_concat_backward_kernel",
               pool_concat_backward_kernel<scalar_t, idx_t, index_t>, blocks_for(total), kThreads,
               0, stream, seg, gc.const_data_ptr<scalar_t>(), ip, static_cast<index_t>(total),
               static_cast<index_t>(ctot), static_cast<index_t>(h), static_cast<index_t>(w), k);
      }
    };
    int64_t all = 0;
    for (const auto& gi : outs) all += gi.numel();
    auto with_index_type = [&](const auto* ip) {
      if (small && fits_narrow(all)) {
        run(ip, narrow_index_t{});
      } else {
        run(ip, int64_t{});
      }
    };
    if (!need_idx) {
      with_index_type(static_cast<const uint8_t*>(nullptr));
    } else if (ic.scalar_type() == at::kByte) {
      with_index_type(ic.data_ptr<uint8_t>());
    } else {
      with_index_type(ic.data_ptr<int32_t>());
    }
  });
  return outs;
}

}  // namespace
}  // namespace fasfast

FASFAST_CUDA_LIBRARY_IMPL(m) {
  m.impl("upsample_sub", &fasfast::upsample_sub_cuda);
  m.impl("_upsample_sub_backward", &fasfast::upsample_sub_backward_cuda);
  m.impl("pool_concat", &fasfast::pool_concat_cuda);
  m.impl("_pool_concat_backward", &fasfast::pool_concat_backward_cuda);
}
