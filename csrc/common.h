// Shared helpers for fasfast's kernels: the host-and-device qualifier used by the
// per-element math headers (diirf_math.h, pyramid_math.h), and the input check of the CPU
// kernels. The CUDA kernels' host helpers are in cuda/cuda_common.cuh.
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FASFAST_HD __host__ __device__ __forceinline__
#elif defined(__GNUC__)
// Always inlined: the CPU kernels call these templates on GCC vector types from functions
// compiled for several instruction sets; an out-of-line copy would be shared by all of them
// with one calling convention for those vectors (GCC's -Wpsabi note).
#define FASFAST_HD inline __attribute__((always_inline))
#else
#define FASFAST_HD inline
#endif

#ifndef __CUDACC__
#include <torch/types.h>
#else
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#endif

namespace fasfast {

// The CPU kernels' device and dtype check: `t` (argument `name` of `op`) must be a float32 or
// float64 CPU tensor. fasfast.ops sends other dtypes to the reference ops before this.
inline void check_cpu_float(const at::Tensor& t, const char* op, const char* name) {
  TORCH_CHECK(t.device().is_cpu(), op, ": ", name, " must be a CPU tensor for the CPU kernel, got ",
              t.device());
  TORCH_CHECK(t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble, op,
              ": the CPU kernel takes float32 or float64, got ", name, " of dtype ",
              t.scalar_type());
}

}  // namespace fasfast
