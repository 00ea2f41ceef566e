// DIIRF and fused FCAM gate: op schemas (declared once, here) and the CPU kernels.
//
// Layout: z is viewed as [N, T, P] (P = H*W, or C*H*W for a 5-D z) and x as [N, T, C, P].
// Inputs with arbitrary strides are made contiguous by the wrappers (`.contiguous()` is a
// no-op for contiguous tensors, so the hot path copies nothing); outputs are contiguous.
//
// Parallelisation: tasks = (n, block of up to kMaxBlock consecutive pixels), run by
// at::parallel_for. A task runs the T-loop over strips of kStrip pixels whose filter states
// stay in vector registers and, for the FCAM gate, keeps the gate of its block
// for all T in a per-thread scratch buffer (T * block values) while it streams the rows
// x[n, t, c, block] contiguously: one pass over x (and grad_out) in both directions, no
// y or gate tensor in memory. The backward recomputes the forward of its block into that
// scratch buffer, then runs the adjoint recurrence backward in time (any T). The standalone
// diirf backward with T <= 8 keeps each strip's z and recomputed y in registers instead
// (one read of z, no scratch traffic).
//
// The task bodies (csrc/diirf_cpu_tasks.inc) are compiled for the baseline x86-64, AVX2
// and AVX-512; the best the CPU supports is picked once at run time (ATEN_CPU_CAPABILITY
// caps it, as for ATen's own kernels). FP contraction is off, so all variants round alike.
//
// Coefficient gradients: every task writes its partial sums (lanes summed in a fixed
// order) to its own row of a [tasks, 5] buffer, then the rows are summed in task order in
// double. The partition depends only on the shape, never on the thread count, so the
// result is bitwise reproducible always (deterministic mode or not).
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "diirf_common.h"
#include "diirf_math.h"
#include "output_cache.h"

namespace fasfast {
namespace diirf {
namespace {

// Pixels whose filter states stay in registers through a T-loop (diirf_cpu_tasks.inc):
// one AVX-512 register of float32. The adjoint keeps 2 states and 5 coefficient-gradient
// accumulators per strip; at 32 pixels they spilled to the stack and the backward ran at
// 60% of the speed.
constexpr int64_t kStrip = 16;

// Work partition, a function of the shape alone (never of the thread count, so that the
// coefficient-gradient sums are reproducible): tasks of `block` consecutive pixels of one
// image n. Long blocks stream x in long contiguous rows: the hardware prefetcher restarts
// at every row, so rows of 1 KiB (the old 256-pixel minimum at the 32x32 level) ran at
// half the speed of 4 KiB rows and more. At least kMinTasks tasks keep a few threads busy
// on small levels (measured on the 2-core machine: see benchmarks/RESULTS.md).
constexpr int64_t kMaxBlock = 8192;
constexpr int64_t kMinBlock = 256;
constexpr int64_t kMinTasks = 4;

struct Partition {
  int64_t block = 0, nblk = 0, tasks = 0;

  Partition(int64_t N, int64_t P) {
    const int64_t want = (N * P + kMinTasks - 1) / kMinTasks;
    block = std::clamp<int64_t>((want + 63) / 64 * 64, kMinBlock, kMaxBlock);
    block = std::max<int64_t>(1, std::min(block, P));
    nblk = (P + block - 1) / block;
    tasks = N * nblk;
  }
  int64_t n(int64_t task) const { return task / nblk; }
  int64_t p0(int64_t task) const { return (task % nblk) * block; }
  int64_t len(int64_t task, int64_t P) const { return std::min(block, P - p0(task)); }
};

// The task bodies, compiled once per instruction set (see diirf_cpu_tasks.inc).
#define FASFAST_CPU_NS isa_default
#define FASFAST_CPU_TARGET
#include "diirf_cpu_tasks.inc"
#undef FASFAST_CPU_NS
#undef FASFAST_CPU_TARGET

#if defined(__x86_64__) && defined(__GNUC__)
#define FASFAST_CPU_MULTIVERSION 1
#define FASFAST_CPU_NS isa_avx2
#define FASFAST_CPU_TARGET __attribute__((target("avx2,fma")))
#include "diirf_cpu_tasks.inc"
#undef FASFAST_CPU_NS
#undef FASFAST_CPU_TARGET
#define FASFAST_CPU_NS isa_avx512
#define FASFAST_CPU_TARGET __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma")))
#include "diirf_cpu_tasks.inc"
#undef FASFAST_CPU_NS
#undef FASFAST_CPU_TARGET
#endif

// Instruction set of the task bodies: the best the CPU supports, capped like ATen's own
// kernels by the environment variable ATEN_CPU_CAPABILITY=default|avx2|avx512.
enum class Isa { kDefault, kAvx2, kAvx512 };

Isa detect_isa() {
#ifdef FASFAST_CPU_MULTIVERSION
  __builtin_cpu_init();
  Isa isa = Isa::kDefault;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) isa = Isa::kAvx2;
  if (isa == Isa::kAvx2 && __builtin_cpu_supports("avx512f") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq")) {
    isa = Isa::kAvx512;
  }
  if (const char* env = std::getenv("ATEN_CPU_CAPABILITY")) {
    if (std::strcmp(env, "default") == 0) isa = Isa::kDefault;
    if (std::strcmp(env, "avx2") == 0 && isa == Isa::kAvx512) isa = Isa::kAvx2;
  }
  return isa;
#else
  return Isa::kDefault;
#endif
}

Isa cpu_isa() {
  static const Isa isa = detect_isa();
  return isa;
}

template <typename scalar_t>
struct Tasks {
  decltype(&isa_default::diirf_forward_task<scalar_t>) diirf_forward;
  decltype(&isa_default::diirf_backward_task<scalar_t>) diirf_backward;
  decltype(&isa_default::fcam_forward_task<scalar_t>) fcam_forward;
  decltype(&isa_default::fcam_backward_task<scalar_t>) fcam_backward;
};

#define FASFAST_TASKS(NS)                                                             \
  Tasks<scalar_t> {                                                                   \
    &NS::diirf_forward_task<scalar_t>, &NS::diirf_backward_task<scalar_t>,            \
        &NS::fcam_forward_task<scalar_t>, &NS::fcam_backward_task<scalar_t>           \
  }

template <typename scalar_t>
Tasks<scalar_t> select_tasks() {
#ifdef FASFAST_CPU_MULTIVERSION
  if (cpu_isa() == Isa::kAvx512) return FASFAST_TASKS(isa_avx512);
  if (cpu_isa() == Isa::kAvx2) return FASFAST_TASKS(isa_avx2);
#endif
  return FASFAST_TASKS(isa_default);
}

template <typename acc_t>
Coeffs<acc_t> load_coeffs(const at::Tensor& b, const at::Tensor& a) {
  auto bc = b.to(at::kCPU).contiguous();
  auto ac = a.to(at::kCPU).contiguous();
  const acc_t* bp = bc.const_data_ptr<acc_t>();
  const acc_t* ap = ac.const_data_ptr<acc_t>();
  return Coeffs<acc_t>{bp[0], bp[1], bp[2], ap[0], ap[1]};
}

// Sums the per-task partials [tasks, 5] in task order (double) into grad_b [3], grad_a [2].
std::tuple<at::Tensor, at::Tensor> reduce_partials(const std::vector<double>& partials,
                                                   int64_t tasks, const at::Tensor& b) {
  double sum[5] = {0, 0, 0, 0, 0};
  for (int64_t k = 0; k < tasks; ++k) {
    for (int j = 0; j < 5; ++j) sum[j] += partials[k * 5 + j];
  }
  auto opts = at::TensorOptions().dtype(at::kDouble);
  auto gb = at::tensor({sum[0], sum[1], sum[2]}, opts).to(b.options());
  auto ga = at::tensor({sum[3], sum[4]}, opts).to(b.options());
  return {gb, ga};
}

void store_partial(std::vector<double>& partials, int64_t task, const auto& g) {
  partials[task * 5 + 0] = static_cast<double>(g.b0);
  partials[task * 5 + 1] = static_cast<double>(g.b1);
  partials[task * 5 + 2] = static_cast<double>(g.b2);
  partials[task * 5 + 3] = static_cast<double>(g.a1);
  partials[task * 5 + 4] = static_cast<double>(g.a2);
}

at::Tensor diirf_cpu(const at::Tensor& z_in, const at::Tensor& b, const at::Tensor& a) {
  const Geometry g = diirf_geometry(z_in, b, a, "fasfast::diirf");
  check_cpu_float(z_in, "fasfast::diirf", "z");
  const at::Tensor z = z_in.contiguous();
  at::Tensor y = empty_output(z.sizes(), z.options());
  if (z.numel() == 0) return y;
  const Partition part(g.N, g.P);
  AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "fasfast_diirf_cpu", [&] {
    const auto c = load_coeffs<scalar_t>(b, a);
    const auto run = select_tasks<scalar_t>().diirf_forward;
    const scalar_t* zp = z.const_data_ptr<scalar_t>();
    scalar_t* yp = y.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, part.tasks, 1, [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t off = part.n(task) * g.T * g.P + part.p0(task);
        run(c, zp + off, yp + off, g.T, g.P, part.len(task, g.P), part.block, nullptr);
      }
    });
  });
  return y;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> diirf_backward_cpu(const at::Tensor& gy_in,
                                                                  const at::Tensor& z_in,
                                                                  const at::Tensor& b,
                                                                  const at::Tensor& a) {
  const Geometry g = diirf_geometry(z_in, b, a, "fasfast::_diirf_backward");
  check_cpu_float(z_in, "fasfast::_diirf_backward", "z");
  TORCH_CHECK(gy_in.sizes() == z_in.sizes() && gy_in.scalar_type() == z_in.scalar_type() &&
                  gy_in.device() == z_in.device(),
              "fasfast::_diirf_backward: grad_y must match z in shape, dtype and device");
  const at::Tensor z = z_in.contiguous();
  const at::Tensor gy = gy_in.contiguous();
  at::Tensor gz = empty_output(z.sizes(), z.options());
  const Partition part(g.N, g.P);
  std::vector<double> partials(static_cast<size_t>(std::max<int64_t>(part.tasks, 1)) * 5, 0.0);
  if (z.numel() > 0) {
    AT_DISPATCH_FLOATING_TYPES(z.scalar_type(), "fasfast_diirf_backward_cpu", [&] {
      const auto c = load_coeffs<scalar_t>(b, a);
      const auto run = select_tasks<scalar_t>().diirf_backward;
      const scalar_t* zp = z.const_data_ptr<scalar_t>();
      const scalar_t* gyp = gy.const_data_ptr<scalar_t>();
      scalar_t* gzp = gz.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, part.tasks, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> scratch(static_cast<size_t>(g.T * part.block));
        for (int64_t task = begin; task < end; ++task) {
          const int64_t off = part.n(task) * g.T * g.P + part.p0(task);
          const auto sums = run(c, gyp + off, zp + off, gzp + off, g.T, g.P,
                                part.len(task, g.P), part.block, scratch.data());
          store_partial(partials, task, sums);
        }
      });
    });
  }
  auto [gb, ga] = reduce_partials(partials, part.tasks, b);
  return {gz, gb, ga};
}

at::Tensor fcam_gate_cpu(const at::Tensor& x_in, const at::Tensor& z_in, const at::Tensor& b,
                         const at::Tensor& a) {
  const Geometry g = fcam_geometry(x_in, z_in, b, a, "fasfast::fcam_gate");
  check_cpu_float(x_in, "fasfast::fcam_gate", "x");
  const at::Tensor x = x_in.contiguous();
  const at::Tensor z = z_in.contiguous();
  at::Tensor out = empty_output(x.sizes(), x.options());
  if (x.numel() == 0) return out;
  const Partition part(g.N, g.P);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fasfast_fcam_gate_cpu", [&] {
    const auto c = load_coeffs<scalar_t>(b, a);
    const auto run = select_tasks<scalar_t>().fcam_forward;
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    const scalar_t* zp = z.const_data_ptr<scalar_t>();
    scalar_t* op = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, part.tasks, 1, [&](int64_t begin, int64_t end) {
      std::vector<scalar_t> scratch(static_cast<size_t>(2 * g.T * part.block));
      for (int64_t task = begin; task < end; ++task) {
        const int64_t n = part.n(task);
        const int64_t xoff = n * g.T * g.C * g.P + part.p0(task);
        run(c, xp + xoff, zp + n * g.T * g.P + part.p0(task), op + xoff, g.T, g.C, g.P,
            part.len(task, g.P), part.block, scratch.data());
      }
    });
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> fcam_gate_backward_cpu(
    const at::Tensor& go_in, const at::Tensor& x_in, const at::Tensor& z_in, const at::Tensor& b,
    const at::Tensor& a) {
  const Geometry g = fcam_geometry(x_in, z_in, b, a, "fasfast::_fcam_gate_backward");
  check_cpu_float(x_in, "fasfast::_fcam_gate_backward", "x");
  TORCH_CHECK(go_in.sizes() == x_in.sizes() && go_in.scalar_type() == x_in.scalar_type() &&
                  go_in.device() == x_in.device(),
              "fasfast::_fcam_gate_backward: grad_out must match x in shape, dtype and device");
  const at::Tensor x = x_in.contiguous();
  const at::Tensor z = z_in.contiguous();
  const at::Tensor go = go_in.contiguous();
  at::Tensor gx = empty_output(x.sizes(), x.options());
  at::Tensor gz = empty_output(z.sizes(), z.options());
  const Partition part(g.N, g.P);
  std::vector<double> partials(static_cast<size_t>(std::max<int64_t>(part.tasks, 1)) * 5, 0.0);
  if (z.numel() > 0) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "fasfast_fcam_gate_backward_cpu", [&] {
      const auto c = load_coeffs<scalar_t>(b, a);
      const auto run = select_tasks<scalar_t>().fcam_backward;
      const scalar_t* xp = x.const_data_ptr<scalar_t>();
      const scalar_t* zp = z.const_data_ptr<scalar_t>();
      const scalar_t* gop = go.const_data_ptr<scalar_t>();
      scalar_t* gxp = gx.mutable_data_ptr<scalar_t>();
      scalar_t* gzp = gz.mutable_data_ptr<scalar_t>();
      at::parallel_for(0, part.tasks, 1, [&](int64_t begin, int64_t end) {
        std::vector<scalar_t> scratch(static_cast<size_t>(3 * g.T * part.block));
        for (int64_t task = begin; task < end; ++task) {
          const int64_t n = part.n(task);
          const int64_t xoff = n * g.T * g.C * g.P + part.p0(task);
          const int64_t zoff = n * g.T * g.P + part.p0(task);
          const auto sums = run(c, gop + xoff, xp + xoff, zp + zoff, gxp + xoff, gzp + zoff, g.T,
                                g.C, g.P, part.len(task, g.P), part.block, scratch.data());
          store_partial(partials, task, sums);
        }
      });
    });
  }
  auto [gb, ga] = reduce_partials(partials, part.tasks, b);
  return {gx, gz, gb, ga};
}

}  // namespace
}  // namespace diirf
}  // namespace fasfast

TORCH_LIBRARY_FRAGMENT(fasfast, m) { fasfast::diirf::define_ops(m); }

TORCH_LIBRARY_IMPL(fasfast, CPU, m) {
  m.impl("diirf", &fasfast::diirf::diirf_cpu);
  m.impl("_diirf_backward", &fasfast::diirf::diirf_backward_cpu);
  m.impl("fcam_gate", &fasfast::diirf::fcam_gate_cpu);
  m.impl("_fcam_gate_backward", &fasfast::diirf::fcam_gate_backward_cpu);
}
