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
// The current stream and the device guard go through c10's device-generic interface (the
// same cudaStream_t at::cuda::getCurrentCUDAStream() returns): the c10/cuda and ATen/cuda
// headers need files that CPU builds of torch lack, and this file must compile there too.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <c10/core/DeviceGuard.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <cuda_runtime.h>
#include <torch/library.h>

#include <algorithm>

#include "diirf_common.h"
#include "diirf_math.h"

namespace fasfast {
namespace diirf {
namespace {

constexpr int kChunk = 16;       // frames held in registers per backward chunk
constexpr int kThreads = 256;    // threads per block (diirf)
constexpr int kTile = 32;        // pixels per block (fcam_gate), one warp wide
constexpr int kMaxCY = 8;        // channel groups per block (fcam_gate)
constexpr int kMaxBlocks = 1 << 16;  // grid cap (grid-stride loops beyond it)

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
// out[0..4] (thread 0). Fixed reduction order: deterministic.
template <typename acc_t>
__device__ void block_reduce_store(CoeffGrad<acc_t> g, acc_t* __restrict__ out) {
  __shared__ acc_t warp_sums[32][5];
  acc_t v[5] = {g.b0, g.b1, g.b2, g.a1, g.a2};
  const int tid = threadIdx.x + blockDim.x * threadIdx.y;
  const int nthreads = blockDim.x * blockDim.y;
  const int lane = tid & 31;
  const int warp = tid >> 5;
  const int nwarps = (nthreads + 31) >> 5;
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
}

// Sums partials [nblocks, 5] in a fixed order (double) into grad_b [3], grad_a [2].
template <typename acc_t>
__global__ void reduce_partials_kernel(const acc_t* __restrict__ partials, int64_t nblocks,
                                       acc_t* __restrict__ grad_b, acc_t* __restrict__ grad_a) {
  __shared__ double sums[kThreads][5];
  double v[5] = {0, 0, 0, 0, 0};
  for (int64_t i = threadIdx.x; i < nblocks; i += blockDim.x) {
#pragma unroll
    for (int k = 0; k < 5; ++k) v[k] += static_cast<double>(partials[i * 5 + k]);
  }
#pragma unroll
  for (int k = 0; k < 5; ++k) sums[threadIdx.x][k] = v[k];
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half >>= 1) {
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

// ---- diirf ---------------------------------------------------------------------------

template <typename scalar_t, typename acc_t>
__global__ void diirf_forward_kernel(const scalar_t* __restrict__ z, const acc_t* __restrict__ b,
                                     const acc_t* __restrict__ a, scalar_t* __restrict__ y,
                                     int64_t N, int64_t T, int64_t P) {
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
__global__ void diirf_backward_kernel(const scalar_t* __restrict__ gy,
                                      const scalar_t* __restrict__ z,
                                      const acc_t* __restrict__ b, const acc_t* __restrict__ a,
                                      scalar_t* __restrict__ gz, acc_t* __restrict__ partials,
                                      int64_t N, int64_t T, int64_t P) {
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
__global__ void fcam_backward_kernel(const scalar_t* __restrict__ go,
                                     const scalar_t* __restrict__ x,
                                     const scalar_t* __restrict__ z, const acc_t* __restrict__ b,
                                     const acc_t* __restrict__ a, scalar_t* __restrict__ gx,
                                     scalar_t* __restrict__ gz, acc_t* __restrict__ partials,
                                     int64_t N, int64_t T, int64_t C, int64_t P) {
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

// The current CUDA stream of `device` (what at::cuda::getCurrentCUDAStream returns).
cudaStream_t current_stream(const c10::Device& device) {
  const c10::Stream s = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getStream(device);
  return static_cast<cudaStream_t>(s.native_handle());
}

void check_launch(const char* op) {
  const cudaError_t err = cudaGetLastError();
  TORCH_CHECK(err == cudaSuccess, op, ": CUDA kernel launch failed: ", cudaGetErrorString(err));
}

void check_cuda(const at::Tensor& t, const char* op) {
  TORCH_CHECK(t.is_cuda(), op, ": the CUDA kernel needs CUDA tensors, got ", t.device());
}

int64_t blocks_for(int64_t work, int64_t per_block) {
  return std::max<int64_t>(1, std::min<int64_t>((work + per_block - 1) / per_block, kMaxBlocks));
}

int channel_groups(int64_t C) { return static_cast<int>(std::min<int64_t>(kMaxCY, std::max<int64_t>(C, 1))); }

at::Tensor diirf_cuda(const at::Tensor& z_in, const at::Tensor& b_in, const at::Tensor& a_in) {
  const Geometry g = diirf_geometry(z_in, b_in, a_in, "fasfast::diirf");
  check_cuda(z_in, "fasfast::diirf");
  const c10::DeviceGuard guard(z_in.device());
  const at::Tensor z = z_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor y = at::empty(z.sizes(), z.options());
  if (z.numel() == 0) return y;
  const cudaStream_t stream = current_stream(guard.current_device());
  const int64_t blocks = blocks_for(g.N * g.P, kThreads);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, z.scalar_type(), "fasfast_diirf_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    diirf_forward_kernel<scalar_t, acc_t><<<blocks, kThreads, 0, stream>>>(
        z.const_data_ptr<scalar_t>(), b.const_data_ptr<acc_t>(), a.const_data_ptr<acc_t>(),
        y.mutable_data_ptr<scalar_t>(), g.N, g.T, g.P);
    check_launch("fasfast::diirf");
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> diirf_backward_cuda(const at::Tensor& gy_in,
                                                                   const at::Tensor& z_in,
                                                                   const at::Tensor& b_in,
                                                                   const at::Tensor& a_in) {
  const Geometry g = diirf_geometry(z_in, b_in, a_in, "fasfast::diirf_backward");
  check_cuda(z_in, "fasfast::diirf_backward");
  TORCH_CHECK(gy_in.sizes() == z_in.sizes() && gy_in.scalar_type() == z_in.scalar_type() &&
                  gy_in.device() == z_in.device(),
              "fasfast::diirf_backward: grad_y must match z in shape, dtype and device");
  const c10::DeviceGuard guard(z_in.device());
  const at::Tensor z = z_in.contiguous();
  const at::Tensor gy = gy_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor gz = at::empty(z.sizes(), z.options());
  at::Tensor gb = at::zeros(b.sizes(), b.options());
  at::Tensor ga = at::zeros(a.sizes(), a.options());
  if (z.numel() == 0) return {gz, gb, ga};
  const cudaStream_t stream = current_stream(guard.current_device());
  const int64_t blocks = blocks_for(g.N * g.P, kThreads);
  at::Tensor partials = at::empty({blocks, 5}, b.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, z.scalar_type(), "fasfast_diirf_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    diirf_backward_kernel<scalar_t, acc_t><<<blocks, kThreads, 0, stream>>>(
        gy.const_data_ptr<scalar_t>(), z.const_data_ptr<scalar_t>(), b.const_data_ptr<acc_t>(),
        a.const_data_ptr<acc_t>(), gz.mutable_data_ptr<scalar_t>(),
        partials.mutable_data_ptr<acc_t>(), g.N, g.T, g.P);
    check_launch("fasfast::diirf_backward");
    reduce_partials_kernel<acc_t><<<1, kThreads, 0, stream>>>(
        partials.const_data_ptr<acc_t>(), blocks, gb.mutable_data_ptr<acc_t>(),
        ga.mutable_data_ptr<acc_t>());
    check_launch("fasfast::diirf_backward");
  });
  return {gz, gb, ga};
}

at::Tensor fcam_gate_cuda(const at::Tensor& x_in, const at::Tensor& z_in, const at::Tensor& b_in,
                          const at::Tensor& a_in) {
  const Geometry g = fcam_geometry(x_in, z_in, b_in, a_in, "fasfast::fcam_gate");
  check_cuda(x_in, "fasfast::fcam_gate");
  const c10::DeviceGuard guard(x_in.device());
  const at::Tensor x = x_in.contiguous();
  const at::Tensor z = z_in.contiguous();
  const at::Tensor b = b_in.contiguous();
  const at::Tensor a = a_in.contiguous();
  at::Tensor out = at::empty(x.sizes(), x.options());
  if (x.numel() == 0) return out;
  const cudaStream_t stream = current_stream(guard.current_device());
  const dim3 block(kTile, channel_groups(g.C));
  const int64_t blocks = blocks_for(g.N * g.P, kTile);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "fasfast_fcam_gate_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    fcam_forward_kernel<scalar_t, acc_t><<<blocks, block, 0, stream>>>(
        x.const_data_ptr<scalar_t>(), z.const_data_ptr<scalar_t>(), b.const_data_ptr<acc_t>(),
        a.const_data_ptr<acc_t>(), out.mutable_data_ptr<scalar_t>(), g.N, g.T, g.C, g.P);
    check_launch("fasfast::fcam_gate");
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fcam_gate_backward_cuda(
    const at::Tensor& go_in, const at::Tensor& x_in, const at::Tensor& z_in, const at::Tensor& b_in,
    const at::Tensor& a_in) {
  const Geometry g = fcam_geometry(x_in, z_in, b_in, a_in, "fasfast::fcam_gate_backward");
  check_cuda(x_in, "fasfast::fcam_gate_backward");
  TORCH_CHECK(go_in.sizes() == x_in.sizes() && go_in.scalar_type() == x_in.scalar_type() &&
                  go_in.device() == x_in.device(),
              "fasfast::fcam_gate_backward: grad_out must match x in shape, dtype and device");
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
  const cudaStream_t stream = current_stream(guard.current_device());
  const dim3 block(kTile, channel_groups(g.C));
  const int64_t blocks = blocks_for(g.N * g.P, kTile);
  at::Tensor partials = at::empty({blocks, 5}, b.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "fasfast_fcam_gate_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    fcam_backward_kernel<scalar_t, acc_t><<<blocks, block, 0, stream>>>(
        go.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), z.const_data_ptr<scalar_t>(),
        b.const_data_ptr<acc_t>(), a.const_data_ptr<acc_t>(), gx.mutable_data_ptr<scalar_t>(),
        gz.mutable_data_ptr<scalar_t>(), partials.mutable_data_ptr<acc_t>(), g.N, g.T, g.C, g.P);
    check_launch("fasfast::fcam_gate_backward");
    reduce_partials_kernel<acc_t><<<1, kThreads, 0, stream>>>(
        partials.const_data_ptr<acc_t>(), blocks, gb.mutable_data_ptr<acc_t>(),
        ga.mutable_data_ptr<acc_t>());
    check_launch("fasfast::fcam_gate_backward");
  });
  return {gx, gz, gb, ga};
}

}  // namespace
}  // namespace diirf
}  // namespace fasfast

TORCH_LIBRARY_IMPL(fasfast, CUDA, m) {
  m.impl("diirf", &fasfast::diirf::diirf_cuda);
  m.impl("diirf_backward", &fasfast::diirf::diirf_backward_cuda);
  m.impl("fcam_gate", &fasfast::diirf::fcam_gate_cuda);
  m.impl("fcam_gate_backward", &fasfast::diirf::fcam_gate_backward_cuda);
}
