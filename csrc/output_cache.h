// Output buffers for the CPU kernels, from a small cache of freed blocks.
//
// Every fused op returns fresh tensors of the same few sizes step after step. On Linux a
// fresh allocation of many MiB is a new mapping whose first touch faults page by page
// (about as slow as the kernel itself here), and glibc unmaps it again on free. The output
// cache keeps freed output blocks (>= 1 MiB, rounded to 2 MiB) for reuse, up to a byte
// limit (FASFAST_CPU_CACHE_MB, default 512; 0 turns it off), the most recently freed block
// of a size reused first (still warm in the CPU caches), the oldest evicted first; new
// blocks are 2 MiB aligned and advised for transparent huge pages, their data started at
// one of 32 cache colours (offsets 4.6 KiB apart) so that two cached tensors do not stream
// through the same cache sets. The same idea as the CUDA caching allocator, for the
// outputs of fasfast's CPU kernels only.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

namespace fasfast {

// An uninitialised contiguous CPU tensor, its storage from the output cache.
at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options);

}  // namespace fasfast
