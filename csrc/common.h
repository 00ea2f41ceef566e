// Shared helpers for fasfast's kernels: the host-and-device qualifier used by the
// per-element math headers (diirf_math.h, pyramid_math.h), and input checks.
#pragma once

#if defined(__CUDACC__) || defined(__HIPCC__)
#define FASFAST_HD __host__ __device__ __forceinline__
#else
#define FASFAST_HD inline
#endif

#ifndef __CUDACC__
#include <torch/types.h>
#else
#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#endif
