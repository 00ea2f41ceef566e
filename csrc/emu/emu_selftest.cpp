// Deliberately faulty kernels that show the emulator's checks fire (tests/test_emu_runtime.py):
//   emu_selftest(str case, int threads) -> Tensor
// Each case is one small kernel; "race" and "reuse" return what the threads read (it differs
// between schedules without their barrier), the others fail with the emulator's error.
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <string>

#include "cuda/cuda_common.cuh"

namespace fasfast {
namespace emu {
namespace {

constexpr int kMax = 1024;

// Every thread writes its index to shared memory, then reads its mirror's entry; with
// `barrier` false the read can come before the mirror's write (schedule-dependent).
__global__ void race_kernel(int* out, bool barrier) {
  __shared__ int buf[kMax];
  const int n = blockDim.x;
  buf[threadIdx.x] = static_cast<int>(threadIdx.x) + 1;
  if (barrier) __syncthreads();
  out[threadIdx.x] = buf[n - 1 - threadIdx.x];
  __syncthreads();
  buf[threadIdx.x] = 0;
}

// Warp 0 reads buf after the barrier while the other warps shuffle 8 times and then overwrite
// it; without the second barrier only the warps schedule (one warp far ahead of another)
// lets warp 0 read the overwritten entries: the lock-step schedules always read first.
__global__ void reuse_kernel(int* out, bool barrier) {
  __shared__ int buf[kMax / 32];
  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  if (lane == 0) buf[warp] = warp + 1;
  __syncthreads();
  if (warp == 0) out[lane] = lane < static_cast<int>(blockDim.x) / 32 ? buf[lane] : 0;
  if (barrier) __syncthreads();
  int v = static_cast<int>(threadIdx.x);
  for (int k = 0; k < 8; ++k) v += __shfl_xor_sync(0xffffffffu, v, 1);
  if (lane == 0) buf[warp] = -v;
}

__global__ void shuffle_kernel(int* out) {
  out[threadIdx.x] = __shfl_down_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void exited_lane_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_xor_sync(0xffffffffu, static_cast<int>(threadIdx.x), 1);
}

__global__ void divergent_barrier_kernel(int* out) {
  if (threadIdx.x < 16) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1;
}

__global__ void barrier_after_exit_kernel(int* out) {
  if (threadIdx.x >= 16) return;
  __syncthreads();
  out[threadIdx.x] = 1;
}

__global__ void deadlock_kernel(int* out) {
  if (threadIdx.x == 0) {
    out[0] = __shfl_sync(0x3u, 1, 1);
  } else {
    __syncthreads();
  }
}

__global__ void narrow_overflow_kernel(int* out) {
  cuda::narrow_index_t i = 30000;
  i += static_cast<int>(threadIdx.x) * 1000;  // 30000 + 3000 > INT16_MAX for thread 3
  out[threadIdx.x] = static_cast<int>(i);
}

__global__ void kernel_check_kernel(int* out) {
  FASFAST_KERNEL_CHECK(threadIdx.x < 8);
  out[threadIdx.x] = 1;
}

at::Tensor selftest(c10::string_view which, int64_t threads) {
  const std::string c(which);
  TORCH_CHECK(threads >= 0 && threads <= kMax, "emu_selftest: threads must be in [0, 1024]");
  at::Tensor out = at::zeros({std::max<int64_t>(threads, 1)}, at::dtype(at::kInt));
  int* p = out.mutable_data_ptr<int>();
  const dim3 block(static_cast<unsigned>(threads));
  if (c == "race" || c == "race_with_barrier") {
    cuda::launch("race_kernel", race_kernel, 1, block, 0, nullptr, p, c == "race_with_barrier");
  } else if (c == "reuse" || c == "reuse_with_barrier") {
    cuda::launch("reuse_kernel", reuse_kernel, 1, block, 0, nullptr, p, c == "reuse_with_barrier");
  } else if (c == "shuffle") {
    cuda::launch("shuffle_kernel", shuffle_kernel, 1, block, 0, nullptr, p);
  } else if (c == "exited_lane") {
    cuda::launch("exited_lane_kernel", exited_lane_kernel, 1, block, 0, nullptr, p);
  } else if (c == "divergent_barrier") {
    cuda::launch("divergent_barrier_kernel", divergent_barrier_kernel, 1, block, 0, nullptr, p);
  } else if (c == "barrier_after_exit") {
    cuda::launch("barrier_after_exit_kernel", barrier_after_exit_kernel, 1, block, 0, nullptr, p);
  } else if (c == "deadlock") {
    cuda::launch("deadlock_kernel", deadlock_kernel, 1, block, 0, nullptr, p);
  } else if (c == "narrow_overflow") {
    cuda::launch("narrow_overflow_kernel", narrow_overflow_kernel, 1, block, 0, nullptr, p);
  } else if (c == "kernel_check") {
    cuda::launch("kernel_check_kernel", kernel_check_kernel, 1, block, 0, nullptr, p);
  } else if (c == "empty_grid") {
    cuda::launch("shuffle_kernel", shuffle_kernel, 0, block, 0, nullptr, p);
  } else if (c == "oversized_block") {  // two rows of `threads`: over 1024 when threads > 512
    cuda::launch("shuffle_kernel", shuffle_kernel, 1, dim3(block.x, 2), 0, nullptr, p);
  } else if (c == "oversized_grid") {  // 65536 blocks in y: one more than CUDA allows
    cuda::launch("shuffle_kernel", shuffle_kernel, dim3(1, 65536), block, 0, nullptr, p);
  } else if (c == "oversized_shared") {  // 48 KiB + 1 of dynamic shared memory
    cuda::launch("shuffle_kernel", shuffle_kernel, 1, block, 48 * 1024 + 1, nullptr, p);
  } else {
    TORCH_CHECK(false, "emu_selftest: unknown case '", c, "'");
  }
  return out;
}

}  // namespace
}  // namespace emu
}  // namespace fasfast

TORCH_LIBRARY_FRAGMENT(fasfast_emu, m) {
  m.def("emu_selftest(str case, int threads) -> Tensor", &fasfast::emu::selftest);
}
