// csrc/cuda/diirf.cu, unchanged, compiled by g++ against the emulated CUDA runtime.
#include "cuda/diirf.cu"

#include <ATen/ops/full.h>

#include <limits>

// A test kernel for diirf.cu's block_reduce_store, which its kernels call once each: its
// trailing barrier is what makes a second call in the same kernel safe (warp_sums is
// reused), and only a kernel that calls it twice can show that barrier's absence:
//   emu_reduce_twice(int threads) -> Tensor [2, 5] (float64): the block sums of
//   (tid, 1, tid^2, -tid, 2) and then of (1, tid, 3, tid^2, -1)
namespace fasfast {
namespace diirf {
namespace {

__global__ void reduce_twice_kernel(double* out) {
  const double t = threadIdx.x;
  block_reduce_store<double>(CoeffGrad<double>{t, 1.0, t * t, -t, 2.0}, out);
  block_reduce_store<double>(CoeffGrad<double>{1.0, t, 3.0, t * t, -1.0}, out + 5);
}

at::Tensor reduce_twice(int64_t threads) {
  TORCH_CHECK(threads > 0 && threads <= 1024 && threads % 32 == 0,
              "emu_reduce_twice: threads must be whole warps in [32, 1024], got ", threads);
  at::Tensor out = at::full({2, 5}, std::numeric_limits<double>::quiet_NaN(),
                            at::dtype(at::kDouble));
  launch("reduce_twice_kernel", reduce_twice_kernel, 1, dim3(static_cast<unsigned>(threads)),
         0, nullptr, out.mutable_data_ptr<double>());
  return out;
}

}  // namespace
}  // namespace diirf
}  // namespace fasfast

TORCH_LIBRARY_FRAGMENT(fasfast_emu, m) {
  m.def("emu_reduce_twice(int threads) -> Tensor", &fasfast::diirf::reduce_twice);
}
