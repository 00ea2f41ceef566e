// The emulated CUDA execution model of the tests (test-only; never part of fasfast._C).
//
// With csrc/emu first on the include path and -DFASFAST_CUDA_EMU, `#include <cuda_runtime.h>`
// in csrc/cuda/*.cu finds this header, and g++ compiles those files, unmodified, into a
// library whose ops run on the CPU under the `fasfast_emu` namespace (tests/_emu.py builds
// it). What a kernel can use:
//   qualifiers   __global__ __device__ __host__ __forceinline__ __launch_bounds__ __shared__
//   built-ins    threadIdx blockIdx blockDim gridDim warpSize
//   intrinsics   __syncthreads __syncwarp __shfl_sync __shfl_up_sync __shfl_down_sync
//                __shfl_xor_sync atomicAdd
//   runtime      dim3 uint3 cudaStream_t cudaError_t cudaGetLastError cudaGetErrorString
//                (streams are stubs; launches go through fasfast::cuda::launch, which calls
//                fasfast::emu::launch below instead of <<<...>>>)
//
// Execution (csrc/emu/emu_runtime.cpp): blocks run one after another; every CUDA thread of
// a block is a fiber (ucontext) that runs until it reaches a barrier, a warp operation or its
// end. The order in which runnable threads (and blocks) run is the schedule: forward,
// reverse, seeded random, or warp by warp (each warp alone up to its next barrier), so a
// missing barrier changes the result instead of passing by luck. A launch fails with an error naming the kernel on: an empty or oversized grid or
// block; a __syncthreads not reached by every thread of the block (one exited, or threads
// wait at different barriers); a warp operation whose mask names a lane that does not exist
// (a partial warp) or has exited, or lanes that disagree on the mask; a deadlock; an
// overflow of the narrow index type (CheckedIndex16 below); a failed FASFAST_KERNEL_CHECK.
// __shared__ variables are static thread_local storage: one copy serves each block in turn,
// and it is not cleared between blocks (as on the device, nothing initialises it).
#pragma once

#ifndef FASFAST_CUDA_EMU
#error "csrc/emu/cuda_runtime.h is the tests' emulated CUDA runtime: build with -DFASFAST_CUDA_EMU"
#endif

#include <c10/core/Device.h>

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <limits>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

// ---- qualifiers ----------------------------------------------------------------------
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static thread_local

// ---- types ---------------------------------------------------------------------------
struct uint3 {
  unsigned int x, y, z;
};

struct dim3 {
  unsigned int x, y, z;
  constexpr dim3(unsigned int x_ = 1, unsigned int y_ = 1, unsigned int z_ = 1)
      : x(x_), y(y_), z(z_) {}
};

struct CUstream_st;
using cudaStream_t = CUstream_st*;

enum cudaError_t : int {
  cudaSuccess = 0,
  cudaErrorInvalidValue = 1,
  cudaErrorLaunchFailure = 719,
  cudaErrorInvalidConfiguration = 9,
};

namespace fasfast {
namespace emu {

// ---- configuration (set from the tests through torch.ops.fasfast_emu.emu_configure) ----
// kWarps: warp by warp, the last warp first; each warp runs alone until all its lanes wait at
// a barrier or have ended (its warp operations complete as soon as its own lanes arrive), as
// a GPU may run one warp far ahead of the others. It exposes a shared-memory race that the
// lock-step schedules cannot: one warp reading a buffer while another, already several warp
// operations further, overwrites it (for example a missing trailing barrier before reuse).
enum class Schedule : int { kForward = 0, kReverse = 1, kRandom = 2, kWarps = 3 };

struct Config {
  Schedule schedule = Schedule::kForward;
  uint64_t seed = 0;
  int64_t max_grid = std::numeric_limits<int64_t>::max();  // cap on launched blocks
  int64_t index_limit = std::numeric_limits<int16_t>::max();  // largest narrow-index size
};

Config& config();

// Every launch since the tests last took the log (emu_take_launches).
struct LaunchRecord {
  std::string kernel;
  int64_t blocks, threads;
  std::string params;  // the kernel's parameter types
};
std::vector<LaunchRecord>& launch_log();

// The running CUDA thread's built-in variables.
struct ThreadVars {
  uint3 thread_idx;
  uint3 block_idx;
  dim3 block_dim;
  dim3 grid_dim;
};

ThreadVars& self();

// Runs body() once per CUDA thread of the grid. Throws c10::Error (naming `kernel`) on a
// bad configuration or a failure inside the kernel.
// `signature` is the launching function's __PRETTY_FUNCTION__ (it names the parameter types).
void launch(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            const std::function<void()>& body, const char* signature = "");

// Fails the running kernel with `what` (inside a kernel), or throws c10::Error (outside).
[[noreturn]] void fail(const std::string& what);

cudaStream_t current_stream(const c10::Device& device);
cudaError_t last_error(bool clear);

enum class WarpOp : int { kIdx = 0, kUp = 1, kDown = 2, kXor = 3, kSync = 4 };

// One lane's part of a warp operation: blocks until every lane named in `mask` is there.
uint64_t warp_op(WarpOp op, unsigned mask, uint64_t bits, int arg, int width,
                 const std::source_location& where);

void syncthreads(const std::source_location& where);

// ---- the narrow index type of the emulated build ----------------------------------------
// The kernels' 32-bit index type is this checked 16-bit integer here, so index arithmetic
// that would overflow int32 on the device overflows (and fails, naming the kernel) on
// tensors of a few ten thousand elements. Arithmetic is done in int64 and checked on the
// way back into 16 bits.
class CheckedIndex16 {
 public:
  CheckedIndex16() = default;
  template <std::integral T>
  CheckedIndex16(T v) : v_(narrow(static_cast<int64_t>(v))) {}  // NOLINT: as int32_t converts
  operator int64_t() const { return v_; }                        // NOLINT: as int32_t converts

  int64_t get() const { return v_; }

#define FASFAST_EMU_COMPOUND(op)                          \
  template <std::integral T>                              \
  CheckedIndex16& operator op##=(T o) {                   \
    v_ = narrow(int64_t(v_) op static_cast<int64_t>(o));  \
    return *this;                                         \
  }                                                       \
  CheckedIndex16& operator op##=(CheckedIndex16 o) {      \
    v_ = narrow(int64_t(v_) op int64_t(o.v_));            \
    return *this;                                         \
  }
  FASFAST_EMU_COMPOUND(+)
  FASFAST_EMU_COMPOUND(-)
  FASFAST_EMU_COMPOUND(*)
  FASFAST_EMU_COMPOUND(/)
  FASFAST_EMU_COMPOUND(%)
#undef FASFAST_EMU_COMPOUND

  static int16_t narrow(int64_t v) {
    if (v < std::numeric_limits<int16_t>::min() || v > std::numeric_limits<int16_t>::max()) {
      fail("narrow index overflow: " + std::to_string(v) +
           " does not fit the kernel's narrow index type (int32 on the device, int16 here)");
    }
    return static_cast<int16_t>(v);
  }

 private:
  int16_t v_ = 0;
};

#define FASFAST_EMU_BINARY(op)                                                              \
  inline CheckedIndex16 operator op(CheckedIndex16 a, CheckedIndex16 b) {                  \
    return CheckedIndex16(a.get() op b.get());                                              \
  }                                                                                         \
  template <std::integral T>                                                                \
  CheckedIndex16 operator op(CheckedIndex16 a, T b) {                                       \
    return CheckedIndex16(a.get() op static_cast<int64_t>(b));                              \
  }                                                                                         \
  template <std::integral T>                                                                \
  CheckedIndex16 operator op(T a, CheckedIndex16 b) {                                       \
    return CheckedIndex16(static_cast<int64_t>(a) op b.get());                              \
  }
FASFAST_EMU_BINARY(+)
FASFAST_EMU_BINARY(-)
FASFAST_EMU_BINARY(*)
FASFAST_EMU_BINARY(/)
FASFAST_EMU_BINARY(%)
#undef FASFAST_EMU_BINARY

#define FASFAST_EMU_COMPARE(op)                                                             \
  inline bool operator op(CheckedIndex16 a, CheckedIndex16 b) { return a.get() op b.get(); } \
  template <std::integral T>                                                                \
  bool operator op(CheckedIndex16 a, T b) {                                                 \
    return a.get() op static_cast<int64_t>(b);                                              \
  }                                                                                         \
  template <std::integral T>                                                                \
  bool operator op(T a, CheckedIndex16 b) {                                                 \
    return static_cast<int64_t>(a) op b.get();                                              \
  }
FASFAST_EMU_COMPARE(<)
FASFAST_EMU_COMPARE(<=)
FASFAST_EMU_COMPARE(>)
FASFAST_EMU_COMPARE(>=)
FASFAST_EMU_COMPARE(==)
FASFAST_EMU_COMPARE(!=)
#undef FASFAST_EMU_COMPARE

template <typename T>
uint64_t to_bits(T v) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= sizeof(uint64_t),
                "warp shuffles move values of at most 8 bytes");
  uint64_t bits = 0;
  std::memcpy(&bits, &v, sizeof(T));
  return bits;
}

template <typename T>
T from_bits(uint64_t bits) {
  T v;
  std::memcpy(&v, &bits, sizeof(T));
  return v;
}

}  // namespace emu
}  // namespace fasfast

template <>
struct std::numeric_limits<fasfast::emu::CheckedIndex16> : std::numeric_limits<int16_t> {};

// ---- built-in variables --------------------------------------------------------------
#define threadIdx (::fasfast::emu::self().thread_idx)
#define blockIdx (::fasfast::emu::self().block_idx)
#define blockDim (::fasfast::emu::self().block_dim)
#define gridDim (::fasfast::emu::self().grid_dim)
#define warpSize 32

// ---- intrinsics ----------------------------------------------------------------------
inline void __syncthreads(std::source_location where = std::source_location::current()) {
  ::fasfast::emu::syncthreads(where);
}

inline void __syncwarp(unsigned mask = 0xffffffffu,
                       std::source_location where = std::source_location::current()) {
  ::fasfast::emu::warp_op(::fasfast::emu::WarpOp::kSync, mask, 0, 0, 32, where);
}

template <typename T>
T __shfl_sync(unsigned mask, T v, int src_lane, int width = 32,
              std::source_location where = std::source_location::current()) {
  using namespace ::fasfast::emu;
  return from_bits<T>(warp_op(WarpOp::kIdx, mask, to_bits(v), src_lane, width, where));
}

template <typename T>
T __shfl_up_sync(unsigned mask, T v, unsigned delta, int width = 32,
                 std::source_location where = std::source_location::current()) {
  using namespace ::fasfast::emu;
  return from_bits<T>(warp_op(WarpOp::kUp, mask, to_bits(v), static_cast<int>(delta), width,
                              where));
}

template <typename T>
T __shfl_down_sync(unsigned mask, T v, unsigned delta, int width = 32,
                   std::source_location where = std::source_location::current()) {
  using namespace ::fasfast::emu;
  return from_bits<T>(warp_op(WarpOp::kDown, mask, to_bits(v), static_cast<int>(delta), width,
                              where));
}

template <typename T>
T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32,
                  std::source_location where = std::source_location::current()) {
  using namespace ::fasfast::emu;
  return from_bits<T>(warp_op(WarpOp::kXor, mask, to_bits(v), lane_mask, width, where));
}

// Threads of a block never run at the same time here, so a read-modify-write is atomic.
template <typename T>
T atomicAdd(T* address, T v) {
  const T old = *address;
  *address = old + v;
  return old;
}

// ---- runtime stubs -------------------------------------------------------------------
inline cudaError_t cudaGetLastError() { return ::fasfast::emu::last_error(true); }
inline cudaError_t cudaPeekAtLastError() { return ::fasfast::emu::last_error(false); }
inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }

inline const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorLaunchFailure:
      return "unspecified launch failure";
  }
  return "unknown error";
}
