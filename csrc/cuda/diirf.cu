// CUDA kernels of the DIIRF and fused FCAM-gate ops (schemas are declared in csrc/diirf.cpp).
// Only launch geometry, indexing and reductions live here; the per-pixel arithmetic is
// csrc/diirf_math.h, shared with (and tested through) the CPU kernels.
//
// Geometry: z is viewed as [N, T, P] and x as [N, T, C, P] (P = H*W; for a 5-D diirf z,
// P = C*H*W). One thread per pixel (n, p), consecutive threads on consecutive p, so every
// load and store of a warp is coalesced along W. The T-loop runs in registers.
// * Forward: streams over t, nothing stored (any T).
// * Backward: needs y[t] in reverse order. Frames are processed in chunks of kChunk from
//   the last chunk to the first; each chunk recomputes the forward from t = 0 up to its
//   end (states only before the chunk, y kept in registers inside it): exact for any T,
//   with no scratch memory, and a single chunk (no recomputation) for T <= kChunk.
// * fcam_gate: blocks of 32 pixels x kCY channel groups; thread (tx, ty) handles the
//   channels c = ty, ty + kCY, ... of pixel tx. The backward sums the gate gradient over
//   the channel groups in shared memory (fixed order), then the ty == 0 threads run the
//   adjoint recurrence.
// * Coefficient gradients: per-thread sums -> block reduction (warp shuffles + shared
//   memory) -> one partial per block -> a one-block kernel sums the partials in a fixed
//   order in double. No atomics: bitwise deterministic always.
// dtypes: float32, float64, float16, bfloat16; accumulation in at::opmath_type (float for
// the 16-bit types), coefficients in that type (float32 b, a for float16/bfloat16 x, z).
//
// Launches, the current stream and device checks go through cuda/cuda_common.cuh, so this
// file also compiles, unchanged, against the tests' emulated CUDA runtime (csrc/emu).
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/DeviceGuard.h>
#include <torch/library.h>

#include <algorithm>

#include "cuda/cuda_common.cuh"
#include "diirf_common.h"
#include "diirf_math.h"

namespace fasfast {
namespace diirf {
namespace {

using cuda::check_device;
using cuda::launch;

constexpr int kChunk = 8;        // frames held in registers per backward chunk
constexpr int kThreads = 256;    // threads per block (diirf)
constexpr int kTile = 32;        // pixels per block (fcam_gate), one warp wide
constexpr int kMaxCY = 8;        // channel groups per block (fcam_gate)
constexpr int kMaxBlocks = 1 << 16;  // grid cap (grid-stride loops beyond it)
constexpr int kReduceThreads = 256;  // threads of reduce_partials_kernel
// Blocks of 256 threads per SM the backward kernels are compiled for (__launch_bounds__):
// caps their registers at 65536 / (256 * blocks) per thread, as many as they need without
// spilling (scripts/ptxas_report.py checks; the table is in benchmarks/RESULTS.md).
template <typename acc_t>
constexpr int min_blocks_backward() {
  return sizeof(acc_t) == 8 ? 2 : 3;
}

static_assert(kThreads % cuda::kWarpSize == 0, "diirf blocks must be whole warps");
static_assert(kTile == cuda::kWarpSize, "an fcam_gate block row is one warp");
static_assert((kReduceThreads & (kReduceThreads - 1)) == 0 && kReduceThreads >= 32,
              "reduce_partials_kernel halves its block: a power of two");

template <typename acc_t>
__device__ __forceinline__ Coeffs<acc_t> load_coeffs(const acc_t* __restrict__ b,
                                                     const acc_t* __restrict__ a) {
  return Coeffs<acc_t>{b[0], b[1], b[2], a[0], a[1]};
}

template <typename acc_t, typename scalar_t>
__device__ __forceinline__ acc_t ld(const scalar_t* __restrict__ p, int64_t i) {
  return static_cast<acc_t>(p[i]);
}

// Sums `g` over the block (all threads must call it) and writes the block's 5 sums to
// out[0..4] (thread 0). Fixed reduction order: deterministic. The shuffles use a full mask,
// so the block must be whole warps (checked at launch, cuda::check_full_warps, and here);
// the trailing barrier lets a kernel call it more than once (warp_sums is reused).
template <typename acc_t>
__device__ void block_reduce_store(CoeffGrad<acc_t> g, acc_t* __restrict__ out) {
  __shared__ acc_t warp_sums[32][5];
  acc_t v[5] = {g.b0, g.b1, g.b2, g.a1, g.a2};
  const int tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const int nthreads = blockDim.x * blockDim.y * blockDim.z;
  FASFAST_KERNEL_CHECK(nthreads % 32 == 0 && nthreads <= 1024);
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int nwarps = nthreads >> 5;
#pragma unroll
  for (int k = 0; k < 5; ++k) {
    for (int off = 16; off > 0; off >>= 1) v[k] += __shfl_down_sync(0xffffffffu, v[k], off);
  }
  if (lane == 0) {
#pragma unroll
    for (int k = 0; k < 5; ++k) warp_sums[warp][k] = v[k];
  }
  __syncthreads();
  if (warp == 0) {
#pragma unroll
    for (int k = 0; k < 5; ++k) {
      v[k] = lane < nwarps ? warp_sums[lane][k] : acc_t(0);
      for (int off = 16; off > 0; off >>= 1) v[k] += __shfl_down_sync(0xffffffffu, v[k], off);
    }
    if (lane == 0) {
#pragma unroll
      for (int k = 0; k < 5; ++k) out[k] = v[k];
    }
  }
  __syncthreads();
}

// Sums partials [nblocks, 5] in a fixed order (double) into grad_b [3], grad_a [2]. One block
// of exactly kBlock threads (a power of two: the tree halves it); launch_reduce_partials is
// the only launch, so the block size cannot disagree with kBlock.
template <typename acc_t, int kBlock>
__global__ void __launch_bounds__(kBlock)
    reduce_partials_kernel(const acc_t* __restrict__ partials, int64_t nblocks,
                           acc_t* __restrict__ grad_b, acc_t* __restrict__ grad_a) {
  static_assert(kBlock >= 32 && (kBlock & (kBlock - 1)) == 0, "kBlock: a power of two");
  FASFAST_KERNEL_CHECK(blockDim.x == kBlock && blockDim.y == 1 && blockDim.z == 1 &&
                       gridDim.x == 1);
  __shared__ double sums[kBlock][5];
  double v[5] = {0, 0, 0, 0, 0};
  for (int64_t i = threadIdx.x; i < nblocks; i += kBlock) {
#pragma unroll
    for (int k = 0; k < 5; ++k) v[k] += static_cast<double>(partials[i * 5 + k]);
  }
#pragma unroll
  for (int k = 0; k < 5; ++k) sums[threadIdx.x][k] = v[k];
  __syncthreads();
  for (int half = kBlock / 2; half > 0; half >>= 1) {
    if (threadIdx.x < half) {
#pragma unroll
      for (int k = 0; k < 5; ++k) sums[threadIdx.x][k] += sums[threadIdx.x + half][k];
    }
    __syncthreads();
  }
  if (threadIdx.x == 0) {
    grad_b[0] = static_cast<acc_t>(sums[0][0]);
    grad_b[1] = static_cast<acc_t>(sums[0][1]);
    grad_b[2] = static_cast<acc_t>(sums[0][2]);
    grad_a[0] = static_cast<acc_t>(sums[0][3]);
    grad_a[1] = static_cast<acc_t>(sums[0][4]);
  }
}

template <typename acc_t>
void launch_reduce_partials(const char* name, const at::Tensor& partials, int64_t nblocks,
                            at::Tensor& gb, at::Tensor& ga, cudaStream_t stream) {
  launch(name, reduce_partials_kernel<acc_t, kReduceThreads>, 1, kReduceThreads, 0, stream,
         partials.const_data_ptr<acc_t>(), nblocks, gb.mutable_data_ptr<acc_t>(),
         ga.mutable_data_ptr<acc_t>());
}

// ---- diirf ---------------------------------------------------------------------------

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads)
    diirf_forward_kernel(const scalar_t* __restrict__ z, const acc_t* __restrict__ b,
                         const acc_t* __restrict__ a, scalar_t* __restrict__ y, int64_t N,
                         int64_t T, int64_t P) {
  const Coeffs<acc_t> c = load_coeffs(b, a);
  const int64_t total = N * P;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P;
    const int64_t base = n * T * P + (i - n * P);
    State<acc_t> s;
    for (int64_t t = 0; t < T; ++t) {
      y[base + t * P] = static_cast<scalar_t>(forward_step(c, s, ld<acc_t>(z, base + t * P)));
    }
  }
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kThreads, min_blocks_backward<acc_t>())
    diirf_backward_kernel(const scalar_t* __restrict__ gy, const scalar_t* __restrict__ z,
                          const acc_t* __restrict__ b, const acc_t* __restrict__ a,
                          scalar_t* __restrict__ gz, acc_t* __restrict__ partials, int64_t N,
                          int64_t T, int64_t P) {
  const Coeffs<acc_t> c = load_coeffs(b, a);
  const int64_t total = N * P;
  CoeffGrad<acc_t> gc;
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * blockDim.x) {
    const int64_t n = i / P;
    const int64_t base = n * T * P + (i - n * P);
    Adjoint<acc_t> adj;
    const int64_t nchunks = (T + kChunk - 1) / kChunk;
    for (int64_t ck = nchunks - 1; ck >= 0; --ck) {
      const int64_t t0 = ck * kChunk;
      State<acc_t> s;
      for (int64_t t = 0; t < t0; ++t) forward_step(c, s, ld<acc_t>(z, base + t * P));
      acc_t zb[kChunk], yb[kChunk];
#pragma unroll
      for (int j = 0; j < kChunk; ++j) {
        if (t0 + j < T) {
          zb[j] = ld<acc_t>(z, base + (t0 + j) * P);
          yb[j] = forward_step(c, s, zb[j]);
        }
      }
#pragma unroll
      for (int j = kChunk - 1; j >= 0; --j) {
        if (t0 + j < T) {
          const int64_t idx = base + (t0 + j) * P;
          gz[idx] = static_cast<scalar_t>(adjoint_step(c, adj, gc, ld<acc_t>(gy, idx), zb[j], yb[j]));
        }
      }
    }
  }
  block_reduce_store(gc, partials + blockIdx.x * 5);
}

// ---- fcam_gate -----------------------------------------------------------------------

template <typename scalar_t, typename acc_t>
__global__ void fcam_forward_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ z,
                                    const acc_t* __restrict__ b, const acc_t* __restrict__ a,
                                    scalar_t* __restrict__ out, int64_t N, int64_t T, int64_t C,
                                    int64_t P) {
  const Coeffs<acc_t> c = load_coeffs(b, a);
  const int64_t total = N * P;
  const int cy = blockDim.y;
  for (int64_t i = blockIdx.x * int64_t(kTile) + threadIdx.x; i < total;
       i += int64_t(gridDim.x) * kTile) {
    const int64_t n = i / P;
    const int64_t p = i - n * P;
    State<acc_t> s;
    for (int64_t t = 0; t < T; ++t) {
      const acc_t gate = sigmoid(forward_step(c, s, ld<acc_t>(z, (n * T + t) * P + p)));
      const int64_t row = (n * T + t) * C;
#pragma unroll 4
      for (int64_t ch = threadIdx.y; ch < C; ch += cy) {
        const int64_t idx = (row + ch) * P + p;
        out[idx] = static_cast<scalar_t>(gate_forward(ld<acc_t>(x, idx), gate));
      }
    }
  }
}

template <typename scalar_t, typename acc_t>
__global__ void __launch_bounds__(kTile * kMaxCY, min_blocks_backward<acc_t>())
    fcam_backward_kernel(const scalar_t* __restrict__ go, const scalar_t* __restrict__ x,
                         const scalar_t* __restrict__ z, const acc_t* __restrict__ b,
                         const acc_t* __restrict__ a, scalar_t* __restrict__ gx,
                         scalar_t* __restrict__ gz, acc_t* __restrict__ partials, int64_t N,
                         int64_t T, int64_t C, int64_t P) {
  // Gate gradient of each (channel group, frame of the chunk, pixel).
  __shared__ acc_t sgg[kMaxCY][kChunk][kTile];
  const Coeffs<acc_t> c = load_coeffs(b, a);
  const int64_t total = N * P;
  const int cy = blockDim.y;
  const int tx = threadIdx.x;
  const int ty = threadIdx.y;
  CoeffGrad<acc_t> gc;
  const int64_t nchunks = (T + kChunk - 1) / kChunk;
  // The loop bounds are uniform across the block (tile-based), so every thread reaches
  // every __syncthreads.
  for (int64_t tile = blockIdx.x; tile * kTile < total; tile += gridDim.x) {
    const int64_t i = tile * kTile + tx;
    const bool valid = i < total;
    const int64_t n = valid ? i / P : 0;
    const int64_t p = valid ? i - n * P : 0;
    Adjoint<acc_t> adj;
    for (int64_t ck = nchunks - 1; ck >= 0; --ck) {
      const int64_t t0 = ck * kChunk;
      acc_t zb[kChunk], yb[kChunk], gb[kChunk];
      if (valid) {
        State<acc_t> s;
        for (int64_t t = 0; t < t0; ++t) forward_step(c, s, ld<acc_t>(z, (n * T + t) * P + p));
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          if (t0 + j < T) {
            zb[j] = ld<acc_t>(z, (n * T + t0 + j) * P + p);
            yb[j] = forward_step(c, s, zb[j]);
            gb[j] = sigmoid(yb[j]);
          }
        }
#pragma unroll
        for (int j = 0; j < kChunk; ++j) {
          if (t0 + j < T) {
            acc_t gg = acc_t(0);
            const int64_t row = (n * T + t0 + j) * C;
#pragma unroll 4
            for (int64_t ch = ty; ch < C; ch += cy) {
              const int64_t idx = (row + ch) * P + p;
              gx[idx] = static_cast<scalar_t>(
                  gate_backward(ld<acc_t>(go, idx), ld<acc_t>(x, idx), gb[j], gg));
            }
            sgg[ty][j][tx] = gg;
          }
        }
      }
      __syncthreads();
      if (valid && ty == 0) {
#pragma unroll
        for (int j = kChunk - 1; j >= 0; --j) {
          if (t0 + j < T) {
            acc_t gg = acc_t(0);
            for (int k = 0; k < cy; ++k) gg += sgg[k][j][tx];
            const acc_t gyv = sigmoid_backward(gg, gb[j]);
            const int64_t idx = (n * T + t0 + j) * P + p;
            gz[idx] = static_cast<scalar_t>(adjoint_step(c, adj, gc, gyv, zb[j], yb[j]));
          }
        }
      }
      __syncthreads();
    }
  }
  block_reduce_store(gc, partials + blockIdx.x * 5);
}

// ---- host wrappers -------------------------------------------------------------------

int64_t blocks_for(int64_t work, int64_t per_block) {
  return cuda::grid_blocks(work, per_block, kMaxBlocks);
}

int channel_groups(int64_t C) { return static_cast<int>(std::min<int64_t>(kMaxCY, std::max<int64_t>(C, 1))); }

at::Tensor diirf_cuda(const at::Tensor& z_in, const at::Tensor& b_in, const at::Tensor& a_in) {
  const Geometry g = diirf_geometry(z_in, b_in, a_in, "fasfast::diirf");
  check_device(z_in, "fasfast::diirf", "z");
  const c10::DeviceGuard guard(z_in.device());
  const at::Tensor z = z_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor y = at::empty(z.sizes(), z.options());
  if (z.numel() == 0) return y;
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  const int64_t blocks = blocks_for(g.N * g.P, kThreads);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, z.scalar_type(), "fasfast_diirf_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    launch("fasfast::diirf: diirf_forward_kernel", diirf_forward_kernel<scalar_t, acc_t>, blocks,
           kThreads, 0, stream, z.const_data_ptr<scalar_t>(), b.const_data_ptr<acc_t>(),
           a.const_data_ptr<acc_t>(), y.mutable_data_ptr<scalar_t>(), g.N, g.T, g.P);
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> diirf_backward_cuda(const at::Tensor& gy_in,
                                                                   const at::Tensor& z_in,
                                                                   const at::Tensor& b_in,
                                                                   const at::Tensor& a_in) {
  const Geometry g = diirf_geometry(z_in, b_in, a_in, "fasfast::_diirf_backward");
  check_device(z_in, "fasfast::_diirf_backward", "z");
  TORCH_CHECK(gy_in.sizes() == z_in.sizes() && gy_in.scalar_type() == z_in.scalar_type() &&
                  gy_in.device() == z_in.device(),
              "fasfast::_diirf_backward: grad_y must match z in shape, dtype and device");
  const c10::DeviceGuard guard(z_in.device());
  const at::Tensor z = z_in.contiguous();
  const at::Tensor gy = gy_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor gz = at::empty(z.sizes(), z.options());
  at::Tensor gb = at::zeros(b.sizes(), b.options());
  at::Tensor ga = at::zeros(a.sizes(), a.options());
  if (z.numel() == 0) return {gz, gb, ga};
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  const int64_t blocks = blocks_for(g.N * g.P, kThreads);
  at::Tensor partials = at::empty({blocks, 5}, b.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, z.scalar_type(), "fasfast_diirf_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const char* name = "fasfast::_diirf_backward: diirf_backward_kernel";
    cuda::check_full_warps(name, kThreads);
    launch(name, diirf_backward_kernel<scalar_t, acc_t>, blocks, kThreads, 0, stream,
           gy.const_data_ptr<scalar_t>(), z.const_data_ptr<scalar_t>(), b.const_data_ptr<acc_t>(),
           a.const_data_ptr<acc_t>(), gz.mutable_data_ptr<scalar_t>(),
           partials.mutable_data_ptr<acc_t>(), g.N, g.T, g.P);
    launch_reduce_partials<acc_t>("fasfast::_diirf_backward: reduce_partials_kernel", partials,
                                  blocks, gb, ga, stream);
  });
  return {gz, gb, ga};
}

at::Tensor fcam_gate_cuda(const at::Tensor& x_in, const at::Tensor& z_in, const at::Tensor& b_in,
                          const at::Tensor& a_in) {
  const Geometry g = fcam_geometry(x_in, z_in, b_in, a_in, "fasfast::fcam_gate");
  check_device(x_in, "fasfast::fcam_gate", "x");
  const c10::DeviceGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor z = z_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  if (x.numel() == 0) return out;
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  const dim3 block(kTile, channel_groups(g.C));
  const int64_t blocks = blocks_for(g.N * g.P, kTile);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "fasfast_fcam_gate_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    launch("fasfast::fcam_gate: fcam_forward_kernel", fcam_forward_kernel<scalar_t, acc_t>, blocks,
           block, 0, stream, x.const_data_ptr<scalar_t>(), z.const_data_ptr<scalar_t>(),
           b.const_data_ptr<acc_t>(), a.const_data_ptr<acc_t>(), out.mutable_data_ptr<scalar_t>(),
           g.N, g.T, g.C, g.P);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fcam_gate_backward_cuda(
    const at::Tensor& go_in, const at::Tensor& x_in, const at::Tensor& z_in, const at::Tensor& b_in,
    const at::Tensor& a_in) {
  const Geometry g = fcam_geometry(x_in, z_in, b_in, a_in, "fasfast::_fcam_gate_backward");
  check_device(x_in, "fasfast::_fcam_gate_backward", "x");
  TORCH_CHECK(go_in.sizes() == x_in.sizes() && go_in.scalar_type() == x_in.scalar_type() &&
                  go_in.device() == x_in.device(),
              "fasfast::_fcam_gate_backward: grad_out must match x in shape, dtype and device");
  const c10::DeviceGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor z = z_in.contiguous();
  const at::Tensor go = go_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor gx = at::empty(x.sizes(), x.options());
  at::Tensor gz = at::empty(z.sizes(), z.options());
  at::Tensor gb = at::zeros(b.sizes(), b.options());
  at::Tensor ga = at::zeros(a.sizes(), a.options());
  if (z.numel() == 0) return {gx, gz, gb, ga};
  const cudaStream_t stream = cuda::current_stream(guard.current_device());
  const dim3 block(kTile, channel_groups(g.C));
  const int64_t blocks = blocks_for(g.N * g.P, kTile);
  at::Tensor partials = at::empty({blocks, 5}, b.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "fasfast_fcam_gate_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const char* name = "fasfast::_fcam_gate_backward: fcam_backward_kernel";
    cuda::check_full_warps(name, block);
    launch(name, fcam_backward_kernel<scalar_t, acc_t>, blocks, block, 0, stream,
           go.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
           z.const_data_ptr<scalar_t>(), b.const_data_ptr<acc_t>(), a.const_data_ptr<acc_t>(),
           gx.mutable_data_ptr<scalar_t>(), gz.mutable_data_ptr<scalar_t>(),
           partials.mutable_data_ptr<acc_t>(), g.N, g.T, g.C, g.P);
    launch_reduce_partials<acc_t>("fasfast::_fcam_gate_backward: reduce_partials_kernel",
                                  partials, blocks, gb, ga, stream);
  });
  return {gx, gz, gb, ga};
}

}  // namespace
}  // namespace diirf
}  // namespace fasfast

FASFAST_CUDA_LIBRARY_IMPL(m) {
  m.impl("diirf", &fasfast::diirf::diirf_cuda);
  m.impl("_diirf_backward", &fasfast::diirf::diirf_backward_cuda);
  m.impl("fcam_gate", &fasfast::diirf::fcam_gate_cuda);
  m.impl("_fcam_gate_backward", &fasfast::diirf::fcam_gate_backward_cuda);
}
