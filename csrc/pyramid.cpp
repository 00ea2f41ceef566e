// Residual-pyramid operators: schemas (declared once, here) and CPU kernels.
//
//   upsample_sub(hi, lo, mode)            hi - up2(lo), one pass, no up-sampled tensor
//   _upsample_sub_backward(grad, mode)    grad_lo = -U^T grad   (grad_hi is grad itself)
//   pool_concat(tensors, kind, with_indices) -> (out, indices)
//        every input pooled (max / avg, kernel = stride = its size ratio) to the smallest
//        size and written at its channel offset of out, in one pass. indices: the max
//        pooling arg-max as the local window offset dy * r + dx (uint8 when every ratio is
//        <= 16, else int32), [N, sum C, h, w]; empty when not asked for or kind is "avg".
//   _pool_concat_backward(grad, indices, offsets, channels, ratios, kind) -> grads
//        one gradient per listed input (its channel offset in out, channels, ratio).
//
// The per-element math lives in pyramid_math.h, shared with csrc/cuda/pyramid.cu.
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <cstring>
#include <vector>

#include "common.h"
#include "pyramid_common.h"
#include "pyramid_math.h"
#include "output_cache.h"

namespace fasfast {
namespace {

using namespace fasfast::pyramid;

constexpr int64_t kGrain = 16384;  // elements per parallel task, at least

int64_t rows_grain(int64_t row_len) {
  return std::max<int64_t>(1, kGrain / std::max<int64_t>(1, row_len));
}

// ------------------------------------------------------------------------- upsample_sub

template <typename scalar_t>
struct UpArgs {
  const scalar_t* hi;
  const scalar_t* lo;
  scalar_t* out;
  int64_t h, w;  // lo size
  int mode;
};

// Lo row `a` up-sampled along W into buf (2w): the W pass of bilinear_blend.
template <typename scalar_t>
inline void upsample_row_w(const scalar_t* __restrict__ a, scalar_t* __restrict__ buf, int64_t w,
                           int mode) {
  using acc_t = scalar_t;
  const int64_t w2 = 2 * w;
  if (mode == kNearest) {
    for (int64_t i = 0; i < w; ++i) {
      buf[2 * i] = a[i];
      buf[2 * i + 1] = a[i];
    }
    return;
  }
  auto edge = [&](int64_t x) {
    const UpTap<acc_t> tx = bilinear_up_tap<acc_t>(x, w);
    buf[x] = lerp2<acc_t>(a[tx.i0], a[tx.i1], tx.w0, tx.w1);
  };
  if (w < 3) {
    for (int64_t x = 0; x < w2; ++x) edge(x);
    return;
  }
  edge(0);
  edge(1);
  const acc_t q = acc_t(0.25), t = acc_t(0.75);
  for (int64_t i = 1; i < w - 1; ++i) {
    buf[2 * i] = lerp2<acc_t>(a[i - 1], a[i], q, t);
    buf[2 * i + 1] = lerp2<acc_t>(a[i], a[i + 1], t, q);
  }
  edge(w2 - 2);
  edge(w2 - 1);
}

// Hi rows [begin, end) (global row index p * 2h + y). The W pass of each lo row is computed
// once into one of two row buffers and reused by the (up to 4) hi rows that need it.
template <typename scalar_t>
inline void upsample_sub_rows(const UpArgs<scalar_t>& A, int64_t begin, int64_t end) {
  using acc_t = scalar_t;
  const int64_t h = A.h, w = A.w, h2 = 2 * h, w2 = 2 * w;
  std::vector<acc_t> storage(2 * w2);
  acc_t* bufs[2] = {storage.data(), storage.data() + w2};
  int64_t keys[2] = {-1, -1};
  int next = 0;
  // The W-pass buffer of global lo row `id`, not evicting slot `keep`.
  auto fetch = [&](int64_t id, int keep) -> int {
    for (int s = 0; s < 2; ++s) {
      if (keys[s] == id) return s;
    }
    int s = next;
    if (s == keep) s = 1 - s;
    next = 1 - s;
    keys[s] = id;
    upsample_row_w<scalar_t>(A.lo + id * w, bufs[s], w, A.mode);
    return s;
  };
  for (int64_t row = begin; row < end; ++row) {
    const int64_t p = row / h2, y = row % h2;
    const scalar_t* __restrict__ hr = A.hi + row * w2;
    scalar_t* __restrict__ o = A.out + row * w2;
    if (A.mode == kNearest) {
      const acc_t* __restrict__ u = bufs[fetch(p * h + nearest_up_index(y), -1)];
      for (int64_t x = 0; x < w2; ++x) o[x] = upsample_sub_value<acc_t>(hr[x], u[x]);
    } else {
      const UpTap<acc_t> ty = bilinear_up_tap<acc_t>(y, h);
      const int s0 = fetch(p * h + ty.i0, -1);
      const int s1 = fetch(p * h + ty.i1, s0);
      const acc_t* __restrict__ u0 = bufs[s0];
      const acc_t* __restrict__ u1 = bufs[s1];
      const acc_t wy0 = ty.w0, wy1 = ty.w1;
      for (int64_t x = 0; x < w2; ++x) {
        o[x] = upsample_sub_value<acc_t>(hr[x], lerp2<acc_t>(u0[x], u1[x], wy0, wy1));
      }
    }
  }
}

at::Tensor upsample_sub_cpu(const at::Tensor& hi, const at::Tensor& lo, c10::string_view mode) {
  const int m = parse_mode(mode);
  check_cpu_float(hi, "fasfast::upsample_sub", "hi");
  check_cpu_float(lo, "fasfast::upsample_sub", "lo");
  TORCH_CHECK(hi.dim() == 4 && lo.dim() == 4, "upsample_sub: hi and lo must be [N, C, H, W]");
  TORCH_CHECK(hi.scalar_type() == lo.scalar_type(), "upsample_sub: hi and lo dtypes differ");
  TORCH_CHECK(hi.size(0) == lo.size(0) && hi.size(1) == lo.size(1) &&
                  hi.size(2) == 2 * lo.size(2) && hi.size(3) == 2 * lo.size(3),
              "upsample_sub: hi ", hi.sizes(), " must be [N, C, 2H, 2W] for lo ", lo.sizes());
  const at::Tensor hc = hi.contiguous();
  const at::Tensor lc = lo.contiguous();
  at::Tensor out = empty_output(hi.sizes(), hi.options());
  const int64_t planes = lo.size(0) * lo.size(1), h = lo.size(2), w = lo.size(3);
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(hi.scalar_type(), "fasfast::upsample_sub (CPU)", [&] {
    const UpArgs<scalar_t> args{hc.data_ptr<scalar_t>(), lc.data_ptr<scalar_t>(),
                                out.data_ptr<scalar_t>(), h, w, m};
    at::parallel_for(0, planes * 2 * h, rows_grain(2 * w), [&](int64_t begin, int64_t end) {
      upsample_sub_rows<scalar_t>(args, begin, end);
    });
  });
  return out;
}

template <typename scalar_t>
struct AdjArgs {
  const scalar_t* g;  // [planes, 2h, 2w]
  scalar_t* out;      // [planes, h, w]
  int64_t h, w;
  int mode;
};

// grad_lo rows [begin, end) (global row index p * h + j).
template <typename scalar_t>
inline void upsample_adjoint_rows(const AdjArgs<scalar_t>& A, int64_t begin, int64_t end) {
  using acc_t = scalar_t;
  const int64_t h = A.h, w = A.w, w2 = 2 * w;
  std::vector<acc_t> colbuf(w2);
  acc_t* __restrict__ v = colbuf.data();
  for (int64_t row = begin; row < end; ++row) {
    const int64_t p = row / h, j = row % h;
    const scalar_t* gplane = A.g + p * 4 * h * w;
    scalar_t* __restrict__ o = A.out + row * w;
    if (A.mode == kNearest) {
      const scalar_t* __restrict__ r0 = gplane + 2 * j * w2;
      const scalar_t* __restrict__ r1 = r0 + w2;
      for (int64_t i = 0; i < w; ++i) {
        o[i] = nearest_adjoint<acc_t>(r0[2 * i], r0[2 * i + 1], r1[2 * i], r1[2 * i + 1]);
      }
      continue;
    }
    // H pass: column sums of the (2 to 4) hi rows feeding lo row j, as adjoint_column.
    const AdjTaps<acc_t> ty = bilinear_adjoint_taps<acc_t>(j, h);
    const scalar_t* __restrict__ g0 = gplane + ty.d0 * w2;
    const acc_t wy0 = ty.w[0];
    for (int64_t x = 0; x < w2; ++x) v[x] = g0[x] * wy0;
    for (int a = 1; a < ty.cnt; ++a) {
      const scalar_t* __restrict__ ga = g0 + a * w2;
      const acc_t wa = ty.w[a];
      for (int64_t x = 0; x < w2; ++x) v[x] = v[x] + ga[x] * wa;
    }
    // W pass, as adjoint_taps.
    auto generic = [&](int64_t i) {
      const AdjTaps<acc_t> tx = bilinear_adjoint_taps<acc_t>(i, w);
      o[i] = -adjoint_taps<acc_t>(v + tx.d0, tx);
    };
    if (w < 3) {
      for (int64_t i = 0; i < w; ++i) generic(i);
      continue;
    }
    generic(0);
    const acc_t q = acc_t(0.25), t = acc_t(0.75);
    for (int64_t i = 1; i < w - 1; ++i) {
      const int64_t x = 2 * i - 1;
      o[i] = -taps4<acc_t>(v[x], v[x + 1], v[x + 2], v[x + 3], q, t, t, q);
    }
    generic(w - 1);
  }
}

at::Tensor upsample_sub_backward_cpu(const at::Tensor& grad, c10::string_view mode) {
  const int m = parse_mode(mode);
  check_cpu_float(grad, "fasfast::_upsample_sub_backward", "grad");
  TORCH_CHECK(grad.dim() == 4 && grad.size(2) % 2 == 0 && grad.size(3) % 2 == 0,
              "_upsample_sub_backward: grad must be [N, C, 2H, 2W], got ", grad.sizes());
  const at::Tensor gc = grad.contiguous();
  const int64_t h = grad.size(2) / 2, w = grad.size(3) / 2, planes = grad.size(0) * grad.size(1);
  at::Tensor out = empty_output({grad.size(0), grad.size(1), h, w}, grad.options());
  if (out.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "fasfast::upsample_sub_backward (CPU)", [&] {
    const AdjArgs<scalar_t> args{gc.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), h, w, m};
    at::parallel_for(0, planes * h, rows_grain(4 * w), [&](int64_t begin, int64_t end) {
      upsample_adjoint_rows<scalar_t>(args, begin, end);
    });
  });
  return out;
}

// -------------------------------------------------------------------------- pool_concat

// One output row: pool the r rows starting at `in` (row length ws * r) into ws outputs.
template <typename scalar_t, typename idx_t>
inline void pool_row(const scalar_t* __restrict__ in, int r, int64_t ws, int kind,
                     scalar_t* __restrict__ out, idx_t* __restrict__ idx) {
  using acc_t = scalar_t;
  const int64_t stride = ws * r;
  if (kind == kMax) {
    if (idx != nullptr) {
      for (int64_t x = 0; x < ws; ++x) {
        acc_t best;
        int arg;
        max_window<acc_t>(in + x * r, stride, r, best, arg);
        out[x] = best;
        idx[x] = static_cast<idx_t>(arg);
      }
    } else {
      for (int64_t x = 0; x < ws; ++x) {
        acc_t best;
        int arg;
        max_window<acc_t>(in + x * r, stride, r, best, arg);
        out[x] = best;
      }
    }
  } else {
    for (int64_t x = 0; x < ws; ++x) out[x] = avg_window<acc_t>(in + x * r, stride, r);
  }
}

template <typename scalar_t, typename idx_t>
inline void pool_row_dispatch(const scalar_t* in, int r, int64_t ws, int kind, scalar_t* out,
                              idx_t* idx) {
  switch (r) {  // constant ratios let the window loops unroll
    case 1:
      std::memcpy(out, in, sizeof(scalar_t) * ws);
      if (idx != nullptr) std::memset(idx, 0, sizeof(idx_t) * ws);
      break;
    case 2:
      pool_row<scalar_t, idx_t>(in, 2, ws, kind, out, idx);
      break;
    case 4:
      pool_row<scalar_t, idx_t>(in, 4, ws, kind, out, idx);
      break;
    default:
      pool_row<scalar_t, idx_t>(in, r, ws, kind, out, idx);
  }
}

template <typename scalar_t, typename idx_t>
struct PoolArgs {
  const scalar_t* const* in;  // per input (contiguous)
  const int64_t* offsets;     // channel offset of each input in out
  const int64_t* ratios;
  const int64_t* chans;
  size_t count;
  scalar_t* out;  // [n, ctot, h, w]
  idx_t* idx;     // same shape, or nullptr
  int64_t h, w, ctot;
  int kind;
};

// Output rows [begin, end) (global row index (b * ctot + c) * h + y).
template <typename scalar_t, typename idx_t>
inline void pool_rows(const PoolArgs<scalar_t, idx_t>& A, int64_t begin, int64_t end) {
  size_t e = 0;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t y = row % A.h, c = (row / A.h) % A.ctot, b = row / (A.h * A.ctot);
    while (e + 1 < A.count && c >= A.offsets[e + 1]) ++e;
    while (c < A.offsets[e]) --e;
    const int64_t r = A.ratios[e], ck = A.chans[e], wk = A.w * r;
    const scalar_t* in = A.in[e] + ((b * ck + (c - A.offsets[e])) * (A.h * r) + y * r) * wk;
    pool_row_dispatch<scalar_t, idx_t>(in, static_cast<int>(r), A.w, A.kind, A.out + row * A.w,
                                       A.idx == nullptr ? nullptr : A.idx + row * A.w);
  }
}

template <typename scalar_t, typename idx_t>
struct UnpoolArgs {
  const scalar_t* g;  // [n, ctot, h, w]
  const idx_t* idx;   // same shape, or nullptr (avg, or ratio 1)
  scalar_t* gi;       // [n, ck, h * r, w * r]
  int64_t h, w, ctot, off, ck;
  int r, kind;
};

// Input-gradient blocks of r rows for output rows [begin, end) of one input
// (global row index (b * ck + c) * h + y). R: the ratio as a constant (0: use A.r).
template <int R, typename scalar_t, typename idx_t>
inline void unpool_rows(const UnpoolArgs<scalar_t, idx_t>& A, int64_t begin, int64_t end) {
  const int r = R > 0 ? R : A.r;
  const int64_t w = A.w, wk = w * r;
  for (int64_t row = begin; row < end; ++row) {
    const int64_t y = row % A.h, c = (row / A.h) % A.ck, b = row / (A.h * A.ck);
    const int64_t orow = ((b * A.ctot + A.off + c) * A.h + y) * w;
    const scalar_t* __restrict__ g = A.g + orow;
    scalar_t* __restrict__ blk = A.gi + row * r * wk;  // the r input rows of this output row
    if (r == 1) {
      std::memcpy(blk, g, sizeof(scalar_t) * w);
    } else if (A.kind == kMax) {
      // max_route in scatter form: zeros, then grad at the arg-max of each window
      const idx_t* __restrict__ id = A.idx + orow;
      std::memset(blk, 0, sizeof(scalar_t) * r * wk);
      const unsigned rr = static_cast<unsigned>(r * r);
      for (int64_t x = 0; x < w; ++x) {
        const int arg = static_cast<int>(id[x]);
        if (static_cast<unsigned>(arg) < rr) blk[x * r + window_offset(arg, r, wk)] = g[x];
      }
    } else {
      for (int64_t x = 0; x < w; ++x) {
        const scalar_t v = avg_route<scalar_t>(g[x], r);
        for (int dy = 0; dy < r; ++dy) {
          for (int dx = 0; dx < r; ++dx) blk[dy * wk + x * r + dx] = v;
        }
      }
    }
  }
}

template <typename scalar_t, typename idx_t>
inline void unpool_dispatch(const UnpoolArgs<scalar_t, idx_t>& A, int64_t begin, int64_t end) {
  switch (A.r) {
    case 2:
      unpool_rows<2>(A, begin, end);
      break;
    case 4:
      unpool_rows<4>(A, begin, end);
      break;
    default:
      unpool_rows<0>(A, begin, end);
  }
}

std::tuple<at::Tensor, at::Tensor> pool_concat_cpu(at::TensorList tensors, c10::string_view kind,
                                                   bool with_indices) {
  const int k = parse_kind(kind);
  std::vector<at::Tensor> ts;
  ts.reserve(tensors.size());
  for (const auto& t : tensors) {
    check_cpu_float(t, "fasfast::pool_concat", "tensors");
    ts.push_back(t.contiguous());
  }
  const PoolLayout L = pool_layout(ts);
  const auto opts = ts[0].options();
  const auto idx_dtype = index_dtype(L.max_ratio);
  at::Tensor out = empty_output({L.n, L.ctot, L.h, L.w}, opts);
  const bool want_idx = with_indices && k == kMax;
  at::Tensor idx = want_idx ? empty_output({L.n, L.ctot, L.h, L.w}, opts.dtype(idx_dtype))
                            : at::empty({0}, opts.dtype(idx_dtype));
  if (out.numel() == 0) return {out, idx};
  std::vector<int64_t> chans;
  for (const auto& t : ts) chans.push_back(t.size(1));
  const int64_t rows = L.n * L.ctot * L.h;
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "fasfast::pool_concat (CPU)", [&] {
    std::vector<const scalar_t*> ptrs;
    for (const auto& t : ts) ptrs.push_back(t.data_ptr<scalar_t>());
    auto run = [&](auto* ip) {
      using idx_t = std::remove_pointer_t<decltype(ip)>;
      const PoolArgs<scalar_t, idx_t> args{
          ptrs.data(), L.offsets.data(), L.ratios.data(), chans.data(), ts.size(),
          out.data_ptr<scalar_t>(), ip, L.h, L.w, L.ctot, k};
      at::parallel_for(0, rows, rows_grain(L.w * L.max_ratio * L.max_ratio),
                       [&](int64_t begin, int64_t end) {
                         pool_rows<scalar_t, idx_t>(args, begin, end);
                       });
    };
    if (!want_idx && idx_dtype == at::kByte) {
      run(static_cast<uint8_t*>(nullptr));
    } else if (!want_idx) {
      run(static_cast<int32_t*>(nullptr));
    } else if (idx_dtype == at::kByte) {
      run(idx.data_ptr<uint8_t>());
    } else {
      run(idx.data_ptr<int32_t>());
    }
  });
  return {out, idx};
}

std::vector<at::Tensor> pool_concat_backward_cpu(const at::Tensor& grad, const at::Tensor& indices,
                                                 at::IntArrayRef offsets, at::IntArrayRef channels,
                                                 at::IntArrayRef ratios, c10::string_view kind) {
  const int k = parse_kind(kind);
  check_cpu_float(grad, "fasfast::_pool_concat_backward", "grad");
  const bool need_idx = check_pool_concat_backward(grad, indices, offsets, channels, ratios, k);
  const at::Tensor gc = grad.contiguous();
  const int64_t n = grad.size(0), ctot = grad.size(1), h = grad.size(2), w = grad.size(3);
  const at::Tensor ic = need_idx ? indices.contiguous() : indices;
  std::vector<at::Tensor> outs;
  AT_DISPATCH_FLOATING_TYPES(grad.scalar_type(), "fasfast::pool_concat_backward (CPU)", [&] {
    for (size_t e = 0; e < ratios.size(); ++e) {
      const int64_t r = ratios[e], ck = channels[e];
      at::Tensor gi = empty_output({n, ck, h * r, w * r}, grad.options());
      outs.push_back(gi);
      if (gi.numel() == 0) continue;
      auto run = [&](const auto* ip) {
        using idx_t = std::remove_const_t<std::remove_pointer_t<decltype(ip)>>;
        const UnpoolArgs<scalar_t, idx_t> args{gc.data_ptr<scalar_t>(), ip, gi.data_ptr<scalar_t>(),
                                               h, w, ctot, offsets[e], ck, static_cast<int>(r), k};
        at::parallel_for(0, n * ck * h, rows_grain(w * r * r),
                         [&](int64_t begin, int64_t end) {
                           unpool_dispatch<scalar_t, idx_t>(args, begin, end);
                         });
      };
      if (!(k == kMax && r > 1)) {
        run(static_cast<const uint8_t*>(nullptr));
      } else if (ic.scalar_type() == at::kByte) {
        run(ic.data_ptr<uint8_t>());
      } else {
        run(ic.data_ptr<int32_t>());
      }
    }
  });
  return outs;
}

}  // namespace
}  // namespace fasfast

TORCH_LIBRARY_FRAGMENT(fasfast, m) { fasfast::pyramid::define_ops(m); }

TORCH_LIBRARY_IMPL(fasfast, CPU, m) {
  m.impl("upsample_sub", &fasfast::upsample_sub_cpu);
  m.impl("_upsample_sub_backward", &fasfast::upsample_sub_backward_cpu);
  m.impl("pool_concat", &fasfast::pool_concat_cpu);
  m.impl("_pool_concat_backward", &fasfast::pool_concat_backward_cpu);
}
