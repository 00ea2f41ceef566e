// Helpers of the CUDA kernels (csrc/cuda/*.cu): device checks, the current stream, grid
// sizes, the narrow index type, grid-stride loops and the one way kernels are launched.
//
// The .cu files are compiled twice, from the same text: by nvcc into fasfast._C, and by g++
// with FASFAST_CUDA_EMU and the tests' emulated CUDA runtime (csrc/emu) into a library
// whose ops run on the CPU as torch.ops.fasfast_emu.* (tests/_emu.py). The few places
// where the two builds differ are all in this file.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>
#include <c10/core/impl/DeviceGuardImplInterface.h>
#include <c10/util/Exception.h>
#include <cuda_runtime.h>
#include <torch/library.h>

#include <algorithm>
#include <cassert>
#include <climits>
#include <cstdint>
#include <utility>

#ifdef FASFAST_CUDA_EMU
// The emulated ops: the fasfast_emu namespace on the CPU dispatch key (schemas: csrc/emu).
#define FASFAST_CUDA_LIBRARY_IMPL(m) TORCH_LIBRARY_IMPL(fasfast_emu, CPU, m)
// A condition a kernel relies on; the emulator fails the launch naming the kernel.
#define FASFAST_KERNEL_CHECK(cond)                                                       \
  do {                                                                                   \
    if (!(cond)) ::fasfast::emu::fail("FASFAST_KERNEL_CHECK(" #cond ") failed at " __FILE__); \
  } while (0)
#else
#define FASFAST_CUDA_LIBRARY_IMPL(m) TORCH_LIBRARY_IMPL(fasfast, CUDA, m)
// A device-side assert (a failed one stops the kernel with "device-side assert triggered").
#define FASFAST_KERNEL_CHECK(cond) assert(cond)
#endif

namespace fasfast {
namespace cuda {

#ifdef FASFAST_CUDA_EMU
inline constexpr c10::DeviceType kDeviceType = c10::DeviceType::CPU;
inline constexpr const char* kDeviceName = "CPU (the emulated CUDA device)";
// Checked int16 (csrc/emu/cuda_runtime.h): narrow-index overflows show at small sizes.
using narrow_index_t = ::fasfast::emu::CheckedIndex16;
#else
inline constexpr c10::DeviceType kDeviceType = c10::DeviceType::CUDA;
inline constexpr const char* kDeviceName = "CUDA";
using narrow_index_t = int32_t;
#endif

inline constexpr int kWarpSize = 32;

// `t` must be on the kernels' device.
inline void check_device(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.device().type() == kDeviceType, op, ": ", name, " must be a ", kDeviceName,
              " tensor for this kernel, got ", t.device());
}

// The current stream of `device` (what at::cuda::getCurrentCUDAStream returns), through
// c10's device-generic interface: the c10/cuda and ATen/cuda headers need files that CPU
// builds of torch lack, and these sources compile there too.
inline cudaStream_t current_stream(const c10::Device& device) {
#ifdef FASFAST_CUDA_EMU
  return ::fasfast::emu::current_stream(device);
#else
  const c10::Stream s = c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->getStream(device);
  return static_cast<cudaStream_t>(s.native_handle());
#endif
}

// Blocks for `work` items at `per_block` per block, at least 1 and at most `cap` (grid-stride
// loops cover the rest). The emulator can lower the cap from the tests.
inline int64_t grid_blocks(int64_t work, int64_t per_block, int64_t cap) {
  int64_t blocks = (work + per_block - 1) / per_block;
  blocks = std::min(blocks, cap);
#ifdef FASFAST_CUDA_EMU
  blocks = std::min(blocks, ::fasfast::emu::config().max_grid);
#endif
  return std::max<int64_t>(blocks, 1);
}

// True when indices up to n fit narrow_index_t (INT_MAX on the device; the emulator's limit,
// at most INT16_MAX, set from the tests to run both index widths at small sizes).
inline bool fits_narrow(int64_t n) {
#ifdef FASFAST_CUDA_EMU
  return n <= std::min<int64_t>(::fasfast::emu::config().index_limit, INT16_MAX);
#else
  return n <= static_cast<int64_t>(INT_MAX);
#endif
}

// Grid-stride loop over [0, total): `for (const index_t i : grid_stride<index_t>(total))`.
// The counter is 64-bit whatever index_t is: a narrow counter passes the type's maximum at
// i + stride once total > max / 2, wraps negative, still passes i < total and runs once more
// at a negative index. index_t is only for the arithmetic inside the loop.
template <typename index_t>
struct GridStride {
  struct End {
    int64_t total;
  };
  struct Iter {
    int64_t i, step;
    __device__ __forceinline__ index_t operator*() const { return static_cast<index_t>(i); }
    __device__ __forceinline__ Iter& operator++() {
      i += step;
      return *this;
    }
    __device__ __forceinline__ bool operator!=(End e) const { return i < e.total; }
  };
  int64_t total;
  __device__ __forceinline__ Iter begin() const {
    return Iter{int64_t(blockIdx.x) * blockDim.x + threadIdx.x, int64_t(gridDim.x) * blockDim.x};
  }
  __device__ __forceinline__ End end() const { return End{total}; }
};

template <typename index_t>
__device__ __forceinline__ GridStride<index_t> grid_stride(int64_t total) {
  return GridStride<index_t>{total};
}

inline int64_t threads_of(dim3 block) { return int64_t(block.x) * block.y * block.z; }

// Fails unless `block` is made of full warps (kernels whose reductions shuffle with a full
// mask need that).
inline void check_full_warps(const char* kernel, dim3 block) {
  TORCH_CHECK(threads_of(block) % kWarpSize == 0, kernel, ": launched with ", threads_of(block),
              " threads per block; its warp reduction needs a multiple of ", kWarpSize);
}

// Launches kernel<<<grid, block, shared_bytes, stream>>>(args...) and fails naming `kernel_name`
// on an empty or oversized configuration or a launch error. Every kernel goes through here.
template <typename... Params, typename... Args>
void launch(const char* kernel_name, void (*kernel)(Params...), dim3 grid, dim3 block,
            size_t shared_bytes, cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "launch: wrong number of kernel arguments");
  const int64_t threads = threads_of(block);
  TORCH_CHECK(grid.x >= 1 && grid.y >= 1 && grid.z >= 1 && grid.x <= 0x7fffffffu &&
                  grid.y <= 65535 && grid.z <= 65535,
              kernel_name, ": bad grid (", grid.x, ", ", grid.y, ", ", grid.z,
              "): each dimension must be at least 1 (x at most 2^31 - 1, y and z at most 65535)");
  TORCH_CHECK(threads >= 1 && threads <= 1024 && block.z <= 64, kernel_name, ": bad block (",
              block.x, ", ", block.y, ", ", block.z, "): 1 to 1024 threads (z at most 64)");
#ifdef FASFAST_CUDA_EMU
  ::fasfast::emu::launch(
      kernel_name, grid, block, shared_bytes, stream,
      [&] { kernel(static_cast<Params>(args)...); }, __PRETTY_FUNCTION__);
#else
  kernel<<<grid, block, shared_bytes, stream>>>(std::forward<Args>(args)...);
#endif
  const cudaError_t err = cudaGetLastError();
  TORCH_CHECK(err == cudaSuccess, kernel_name, ": CUDA kernel launch failed: ",
              cudaGetErrorString(err));
}

}  // namespace cuda
}  // namespace fasfast
