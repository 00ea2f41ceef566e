// Shared helpers for fasfast's kernels: the host-and-device qualifier used by the
// per-element math headers (diirf_math.h, pyramid_math.h), and input checks.
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
