// The `fasfast_emu` op library of the tests: the schemas of every fasfast op family (the
// CUDA kernels in csrc/cuda/*.cu, compiled against the emulated runtime, register their
// implementations on its CPU key), and the emulator's settings:
//   emu_configure(schedule, seed, max_grid, index_limit)   schedule: forward|reverse|random|warps
//   emu_config() -> (schedule, seed, max_grid, index_limit)
//   emu_take_launches() -> (kernel names, grid sizes, threads per block, parameter types)
//                          of the launches since the last call
//   emu_selftest(case, threads): faulty kernels that show the checks fire (emu_selftest.cpp)
// Built by tests/_emu.py (torch.utils.cpp_extension.load); never part of fasfast._C.
#include <torch/library.h>

#include <string>
#include <tuple>
#include <vector>

#include "cuda_runtime.h"
#include "diirf_common.h"
#include "pyramid_common.h"

namespace fasfast {
namespace emu {
namespace {

const char* schedule_name(Schedule s) {
  switch (s) {
    case Schedule::kForward:
      return "forward";
    case Schedule::kReverse:
      return "reverse";
    case Schedule::kRandom:
      return "random";
    case Schedule::kWarps:
      return "warps";
  }
  return "?";
}

void configure(c10::string_view schedule, int64_t seed, int64_t max_grid, int64_t index_limit) {
  Config c;
  if (schedule == "forward") {
    c.schedule = Schedule::kForward;
  } else if (schedule == "reverse") {
    c.schedule = Schedule::kReverse;
  } else if (schedule == "random") {
    c.schedule = Schedule::kRandom;
  } else if (schedule == "warps") {
    c.schedule = Schedule::kWarps;
  } else {
    TORCH_CHECK(false, "fasfast emu: schedule must be forward, reverse, random or warps, got '",
                std::string(schedule), "'");
  }
  TORCH_CHECK(max_grid >= 1, "fasfast emu: max_grid must be >= 1, got ", max_grid);
  TORCH_CHECK(index_limit >= 0, "fasfast emu: index_limit must be >= 0, got ", index_limit);
  c.seed = static_cast<uint64_t>(seed);
  c.max_grid = max_grid;
  c.index_limit = index_limit;
  config() = c;
}

std::tuple<std::string, int64_t, int64_t, int64_t> get_config() {
  const Config& c = config();
  return {schedule_name(c.schedule), static_cast<int64_t>(c.seed), c.max_grid, c.index_limit};
}

std::tuple<std::vector<std::string>, std::vector<int64_t>, std::vector<int64_t>,
           std::vector<std::string>>
take_launches() {
  std::vector<std::string> names, params;
  std::vector<int64_t> grids, threads;
  for (const LaunchRecord& r : launch_log()) {
    names.push_back(r.kernel);
    grids.push_back(r.blocks);
    threads.push_back(r.threads);
    params.push_back(r.params);
  }
  launch_log().clear();
  return {names, grids, threads, params};
}

}  // namespace
}  // namespace emu
}  // namespace fasfast

TORCH_LIBRARY(fasfast_emu, m) {
  fasfast::diirf::define_ops(m);
  fasfast::pyramid::define_ops(m);
  m.def("emu_configure(str schedule, int seed, int max_grid, int index_limit) -> ()",
        &fasfast::emu::configure);
  m.def("emu_config() -> (str, int, int, int)", &fasfast::emu::get_config);
  m.def("emu_take_launches() -> (str[], int[], int[], str[])", &fasfast::emu::take_launches);
}
