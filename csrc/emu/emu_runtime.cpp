// The scheduler of the emulated CUDA execution model (see cuda_runtime.h beside this file).
//
// One launch: the blocks run one after another (in schedule order). A block's threads are
// fibers (ucontext) on stacks of a per-OS-thread pool. Rounds: every runnable thread, in
// schedule order, runs until it blocks (barrier, warp operation) or ends. When none is
// runnable, warp operations whose lanes have all arrived complete, then a barrier that
// every live thread waits at opens; anything else is a failure (divergence, deadlock).
// The warps schedule runs each warp alone instead (last warp first), completing its warp
// operations as soon as its own lanes arrive, until the warp waits at a barrier or ends.
#include "cuda_runtime.h"

#include <c10/util/Exception.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <sstream>
#include <string_view>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#define FASFAST_EMU_ASAN 1
#endif

namespace fasfast {
namespace emu {
namespace {

// Fiber stacks: a kernel's frames are small (a few hundred bytes; twice that with ASan's
// redzones). ASan clears the shadow of the whole stack at every switch into a fiber, so
// larger stacks only cost time; a guard page below each catches an overflow.
constexpr size_t kStackBytes = 64 * 1024;
constexpr int kWarp = 32;
constexpr unsigned kMaxThreads = 1024;
constexpr size_t kMaxSharedBytes = 48 * 1024;

// Thrown inside a fiber to end the kernel; caught by the fiber's entry function.
struct KernelFailure {
  std::string what;
};

enum class State { kRunnable, kBarrier, kWarp, kDone };

struct Thread {
  ThreadVars vars{};
  ucontext_t context{};
  char* stack = nullptr;
  State state = State::kRunnable;
  int linear = 0, lane = 0, warp = 0;
  std::source_location where;  // of the barrier or warp operation it waits at
  WarpOp op = WarpOp::kSync;
  unsigned mask = 0;
  int arg = 0, width = kWarp;
  uint64_t value = 0, result = 0;
#ifdef FASFAST_EMU_ASAN
  void* fake_stack = nullptr;
#endif
};

struct Block {
  const char* kernel = nullptr;
  const std::function<void()>* body = nullptr;
  std::vector<Thread> threads;
  int nthreads = 0;
  ucontext_t scheduler{};
  std::string failure;  // set when a thread failed
#ifdef FASFAST_EMU_ASAN
  void* scheduler_fake_stack = nullptr;
  const void* scheduler_bottom = nullptr;
  size_t scheduler_size = 0;
#endif
};

Config g_config;
thread_local Block* t_block = nullptr;
thread_local Thread* t_thread = nullptr;
thread_local cudaError_t t_last_error = cudaSuccess;
thread_local bool t_stacks_dirty = false;

// Stacks of the fibers, reused across blocks and launches (a guard page below each).
struct StackPool {
  std::vector<char*> stacks;
  ~StackPool() {
    for (char* s : stacks) munmap(s - page(), kStackBytes + page());
  }
  static size_t page() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }
  char* get(size_t i) {
    while (stacks.size() <= i) {
      void* p = mmap(nullptr, kStackBytes + page(), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
      TORCH_CHECK(p != MAP_FAILED, "fasfast emu: cannot map a fiber stack");
      mprotect(p, page(), PROT_NONE);
      stacks.push_back(static_cast<char*>(p) + page());
    }
    return stacks[i];
  }
};

thread_local StackPool t_stacks;

std::string where_str(const std::source_location& w) {
  std::string file = w.file_name();
  const auto slash = file.find_last_of('/');
  if (slash != std::string::npos) {
    const auto up = file.find_last_of('/', slash - 1);
    file = file.substr(up == std::string::npos ? 0 : up + 1);
  }
  return file + ":" + std::to_string(w.line());
}

std::string thread_str(const Thread& t) {
  std::ostringstream s;
  s << "thread (" << t.vars.thread_idx.x << "," << t.vars.thread_idx.y << ","
    << t.vars.thread_idx.z << ")";
  return s.str();
}

std::string block_str(const Thread& t) {
  std::ostringstream s;
  s << "block (" << t.vars.block_idx.x << "," << t.vars.block_idx.y << "," << t.vars.block_idx.z
    << ")";
  return s.str();
}

const char* op_name(WarpOp op) {
  switch (op) {
    case WarpOp::kIdx:
      return "__shfl_sync";
    case WarpOp::kUp:
      return "__shfl_up_sync";
    case WarpOp::kDown:
      return "__shfl_down_sync";
    case WarpOp::kXor:
      return "__shfl_xor_sync";
    case WarpOp::kSync:
      return "__syncwarp";
  }
  return "?";
}

std::string hex(unsigned v) {
  std::ostringstream s;
  s << "0x" << std::hex << v;
  return s.str();
}

// ---- fiber switches (annotated for AddressSanitizer) ----------------------------------

void switch_to_scheduler(Thread& t, bool ending) {
  Block& b = *t_block;
#ifdef FASFAST_EMU_ASAN
  __sanitizer_start_switch_fiber(ending ? nullptr : &t.fake_stack, b.scheduler_bottom,
                                 b.scheduler_size);
#else
  (void)ending;
#endif
  swapcontext(&t.context, &b.scheduler);
#ifdef FASFAST_EMU_ASAN
  __sanitizer_finish_switch_fiber(t.fake_stack, &b.scheduler_bottom, &b.scheduler_size);
#endif
}

void fiber_entry() {
  Thread& t = *t_thread;
  Block& b = *t_block;
#ifdef FASFAST_EMU_ASAN
  __sanitizer_finish_switch_fiber(nullptr, &b.scheduler_bottom, &b.scheduler_size);
#endif
  try {
    (*b.body)();
  } catch (const KernelFailure& f) {
    if (b.failure.empty()) b.failure = block_str(t) + " " + thread_str(t) + ": " + f.what;
  } catch (const std::exception& e) {
    if (b.failure.empty()) b.failure = block_str(t) + " " + thread_str(t) + ": " + e.what();
  }
  t.state = State::kDone;
  switch_to_scheduler(t, /*ending=*/true);
  std::abort();  // a finished fiber is never resumed
}

void resume(Block& b, Thread& t) {
  t_thread = &t;
#ifdef FASFAST_EMU_ASAN
  __sanitizer_start_switch_fiber(&b.scheduler_fake_stack, t.stack, kStackBytes);
#endif
  swapcontext(&b.scheduler, &t.context);
#ifdef FASFAST_EMU_ASAN
  __sanitizer_finish_switch_fiber(b.scheduler_fake_stack, nullptr, nullptr);
#endif
  t_thread = nullptr;
}

// ---- schedule ------------------------------------------------------------------------

void order(std::vector<int>& ids, std::mt19937_64& rng) {
  switch (g_config.schedule) {
    case Schedule::kForward:
      break;
    case Schedule::kReverse:
      std::reverse(ids.begin(), ids.end());
      break;
    case Schedule::kRandom:
      std::shuffle(ids.begin(), ids.end(), rng);
      break;
    case Schedule::kWarps:  // run_warps_alone orders the warps; lanes in order
      break;
  }
}

[[noreturn]] void block_failure(const Block& b, const Thread& any, const std::string& what) {
  t_stacks_dirty = true;  // fibers are abandoned mid-kernel
  TORCH_CHECK(false, "fasfast emu: kernel ", b.kernel, ", ", block_str(any), ": ", what);
  std::abort();
}

// Completes the warp operation of warp w if its named lanes have all arrived (no lane of w
// may be runnable); true if it did.
bool resolve_warp(Block& b, int w) {
  bool progressed = false;
  const int first = w * kWarp;
  const int lanes = std::min(kWarp, b.nthreads - first);
  for (int l = 0; l < lanes; ++l) {
    Thread& t = b.threads[first + l];
    if (t.state != State::kWarp) continue;
    const std::string at = std::string(op_name(t.op)) + " at " + where_str(t.where) + " (" +
                           thread_str(t) + ", lane " + std::to_string(l) + ", mask " +
                           hex(t.mask) + ")";
    if (!(t.mask >> l & 1u)) block_failure(b, t, at + ": the calling lane is not in its mask");
    for (int k = 0; k < kWarp; ++k) {
      if (!(t.mask >> k & 1u)) continue;
      if (k >= lanes) {
        block_failure(b, t,
                      at + " names lane " + std::to_string(k) +
                          ", which does not exist: the block has " +
                          std::to_string(b.nthreads) + " threads, so warp " + std::to_string(w) +
                          " has " + std::to_string(lanes) + " lanes");
      }
      const Thread& o = b.threads[first + k];
      if (o.state == State::kDone) {
        block_failure(b, t, at + " names lane " + std::to_string(k) + ", which has exited");
      }
      if (o.state == State::kBarrier) {
        block_failure(b, t,
                      "deadlock: " + at + " waits for lane " + std::to_string(k) +
                          ", which waits at __syncthreads at " + where_str(o.where));
      }
      if (o.mask != t.mask || o.op != t.op || o.where.line() != t.where.line()) {
        block_failure(b, t,
                      "divergent warp operations: " + at + " and lane " + std::to_string(k) +
                          " in " + op_name(o.op) + " at " + where_str(o.where) + " (mask " +
                          hex(o.mask) + ")");
      }
    }
  }
  // Every waiting lane's group is complete and consistent: compute the results.
  bool any = false;
  for (int l = 0; l < lanes; ++l) {
    Thread& t = b.threads[first + l];
    if (t.state != State::kWarp) continue;
    any = true;
    int src = l;
    const int width = t.width;
    const int seg = l - l % width;
    switch (t.op) {
      case WarpOp::kIdx:
        src = seg + ((t.arg % width) + width) % width;
        break;
      case WarpOp::kUp:
        src = (l - seg) - t.arg >= 0 ? l - t.arg : l;
        break;
      case WarpOp::kDown:
        src = (l - seg) + t.arg < width ? l + t.arg : l;
        break;
      case WarpOp::kXor:
        src = ((l ^ t.arg) - seg) < width && (l ^ t.arg) >= seg ? (l ^ t.arg) : l;
        break;
      case WarpOp::kSync:
        break;
    }
    if (src >= lanes || !(t.mask >> src & 1u)) {
      block_failure(b, t,
                    std::string(op_name(t.op)) + " at " + where_str(t.where) + ": lane " +
                        std::to_string(l) + " reads lane " + std::to_string(src) +
                        ", which is not in the mask " + hex(t.mask));
    }
    t.result = b.threads[first + src].value;
  }
  if (any) {
    for (int l = 0; l < lanes; ++l) {
      Thread& t = b.threads[first + l];
      if (t.state == State::kWarp) t.state = State::kRunnable;
    }
    progressed = true;
  }
  return progressed;
}

// Completes every warp operation whose named lanes have all arrived; true if any did.
bool resolve_warps(Block& b) {
  bool progressed = false;
  const int nwarps = (b.nthreads + kWarp - 1) / kWarp;
  for (int w = 0; w < nwarps; ++w) progressed = resolve_warp(b, w) || progressed;
  return progressed;
}

// Opens the barrier if every live thread waits at it; true if it did.
bool resolve_barrier(Block& b) {
  const Thread* waiting = nullptr;
  const Thread* exited = nullptr;
  for (const Thread& t : b.threads) {
    if (t.state == State::kBarrier && waiting == nullptr) waiting = &t;
    if (t.state == State::kDone && exited == nullptr) exited = &t;
    if (t.state == State::kRunnable || t.state == State::kWarp) return false;
  }
  if (waiting == nullptr) return false;
  if (exited != nullptr) {
    block_failure(b, *waiting,
                  "__syncthreads at " + where_str(waiting->where) + " is not reached by " +
                      thread_str(*exited) + ", which has exited (barrier divergence)");
  }
  for (const Thread& t : b.threads) {
    if (t.where.line() != waiting->where.line() ||
        std::strcmp(t.where.file_name(), waiting->where.file_name()) != 0) {
      block_failure(b, t,
                    "barrier divergence: " + thread_str(*waiting) + " waits at __syncthreads at " +
                        where_str(waiting->where) + ", " + thread_str(t) + " at " +
                        where_str(t.where));
    }
  }
  for (Thread& t : b.threads) t.state = State::kRunnable;
  return true;
}

[[noreturn]] void deadlock(const Block& b) {
  std::ostringstream s;
  s << "deadlock: no thread can run;";
  int shown = 0;
  for (const Thread& t : b.threads) {
    if (t.state == State::kDone || shown >= 4) continue;
    s << " " << thread_str(t) << " waits in "
      << (t.state == State::kBarrier ? "__syncthreads" : op_name(t.op)) << " at "
      << where_str(t.where) << ";";
    ++shown;
  }
  block_failure(b, b.threads[0], s.str());
}

// Runs one thread until it blocks or ends; a failure inside it fails the launch.
void run_until_blocked(Block& b, Thread& t) {
  resume(b, t);
  if (!b.failure.empty()) {
    t_stacks_dirty = true;
    TORCH_CHECK(false, "fasfast emu: kernel ", b.kernel, ", ", b.failure);
  }
}

// The warps schedule: each warp, the last first, runs alone until every lane waits at a
// barrier or has ended; its warp operations complete as soon as its own lanes arrive.
void run_warps_alone(Block& b) {
  const int nwarps = (b.nthreads + kWarp - 1) / kWarp;
  for (int w = nwarps - 1; w >= 0; --w) {
    const int first = w * kWarp;
    const int lanes = std::min(kWarp, b.nthreads - first);
    bool ran = true;
    while (ran || resolve_warp(b, w)) {
      ran = false;
      for (int l = 0; l < lanes; ++l) {
        Thread& t = b.threads[first + l];
        if (t.state != State::kRunnable) continue;
        run_until_blocked(b, t);
        ran = true;
      }
    }
  }
}

void run_block(Block& b, uint3 block_idx, dim3 grid, dim3 block, std::mt19937_64& rng) {
  for (int i = 0; i < b.nthreads; ++i) {
    Thread& t = b.threads[i];
    t = Thread{};
    t.linear = i;
    t.lane = i % kWarp;
    t.warp = i / kWarp;
    t.vars.thread_idx = uint3{i % block.x, (i / block.x) % block.y, i / (block.x * block.y)};
    t.vars.block_idx = block_idx;
    t.vars.block_dim = block;
    t.vars.grid_dim = grid;
    t.stack = t_stacks.get(static_cast<size_t>(i));
#ifdef FASFAST_EMU_ASAN
    if (t_stacks_dirty) __asan_unpoison_memory_region(t.stack, kStackBytes);
#endif
    getcontext(&t.context);
    t.context.uc_stack.ss_sp = t.stack;
    t.context.uc_stack.ss_size = kStackBytes;
    t.context.uc_link = nullptr;
    makecontext(&t.context, &fiber_entry, 0);
  }
  t_stacks_dirty = false;
  std::vector<int> ids;
  ids.reserve(b.nthreads);
  while (true) {
    if (g_config.schedule == Schedule::kWarps) {
      run_warps_alone(b);
    } else {
      ids.clear();
      for (int i = 0; i < b.nthreads; ++i) {
        if (b.threads[i].state == State::kRunnable) ids.push_back(i);
      }
      if (!ids.empty()) {
        order(ids, rng);
        for (int i : ids) run_until_blocked(b, b.threads[i]);
        continue;
      }
    }
    bool done = true;
    for (const Thread& t : b.threads) done = done && t.state == State::kDone;
    if (done) return;
    if (resolve_warps(b)) continue;
    if (resolve_barrier(b)) continue;
    deadlock(b);
  }
}

}  // namespace

Config& config() { return g_config; }

std::vector<LaunchRecord>& launch_log() {
  static std::vector<LaunchRecord> log;
  return log;
}

ThreadVars& self() {
  TORCH_CHECK(t_thread != nullptr,
              "fasfast emu: threadIdx/blockIdx/blockDim/gridDim read outside a kernel");
  return t_thread->vars;
}

void fail(const std::string& what) {
  if (t_thread != nullptr) throw KernelFailure{what};
  TORCH_CHECK(false, "fasfast emu: ", what);
  std::abort();
}

cudaStream_t current_stream(const c10::Device& device) {
  TORCH_CHECK(device.is_cpu(), "fasfast emu: the emulated CUDA device is the CPU, got ", device);
  return nullptr;  // the default stream
}

cudaError_t last_error(bool clear) {
  const cudaError_t e = t_last_error;
  if (clear) t_last_error = cudaSuccess;
  return e;
}

uint64_t warp_op(WarpOp op, unsigned mask, uint64_t bits, int arg, int width,
                 const std::source_location& where) {
  Thread* t = t_thread;
  TORCH_CHECK(t != nullptr, "fasfast emu: ", op_name(op), " called outside a kernel");
  if (width <= 0 || width > kWarp || (width & (width - 1)) != 0) {
    throw KernelFailure{std::string(op_name(op)) + " at " + where_str(where) + ": width " +
                        std::to_string(width) + " is not a power of two <= 32"};
  }
  t->state = State::kWarp;
  t->op = op;
  t->mask = mask;
  t->value = bits;
  t->arg = arg;
  t->width = width;
  t->where = where;
  switch_to_scheduler(*t, false);
  return t->result;
}

void syncthreads(const std::source_location& where) {
  Thread* t = t_thread;
  TORCH_CHECK(t != nullptr, "fasfast emu: __syncthreads called outside a kernel");
  t->state = State::kBarrier;
  t->where = where;
  switch_to_scheduler(*t, false);
}

void launch(const char* kernel, dim3 grid, dim3 block, size_t shared_bytes, cudaStream_t stream,
            const std::function<void()>& body, const char* signature) {
  (void)stream;
  TORCH_CHECK(t_thread == nullptr, "fasfast emu: kernel ", kernel,
              " launched from inside a kernel (dynamic parallelism is not emulated)");
  const uint64_t threads = uint64_t(block.x) * block.y * block.z;
  const uint64_t blocks = uint64_t(grid.x) * grid.y * grid.z;
  const bool bad = threads == 0 || blocks == 0 || threads > kMaxThreads || block.z > 64 ||
                   grid.x > 0x7fffffffu || grid.y > 65535 || grid.z > 65535 ||
                   shared_bytes > kMaxSharedBytes;
  if (bad) {
    TORCH_CHECK(false, "fasfast emu: kernel ", kernel, " launched with grid (", grid.x, ",",
                grid.y, ",", grid.z, ") and block (", block.x, ",", block.y, ",", block.z,
                "), ", shared_bytes,
                " bytes of dynamic shared memory: a CUDA launch needs 1 to 2^31-1 blocks in x "
                "(65535 in y, z), 1 to 1024 threads per block (64 in z) and at most 48 KiB");
  }
  if (launch_log().size() < 100000) {
    // "... [with Params = {const float*, ...}; ...]": the braces of Params, nested ones too
    const std::string sig(signature);
    std::string params;
    const auto at = sig.find("Params = {");
    if (at != std::string::npos) {
      int depth = 1;
      for (size_t i = at + 10; i < sig.size() && depth > 0; ++i) {
        depth += sig[i] == '{' ? 1 : sig[i] == '}' ? -1 : 0;
        if (depth > 0) params += sig[i];
      }
    }
    launch_log().push_back(
        {kernel, static_cast<int64_t>(blocks), static_cast<int64_t>(threads), params});
  }
  // Seeded by the kernel's name: a random schedule does not depend on earlier launches.
  std::mt19937_64 rng(g_config.seed * 0x9E3779B97F4A7C15ull +
                      std::hash<std::string_view>{}(std::string_view(kernel)));
  Block b;
  b.kernel = kernel;
  b.body = &body;
  b.nthreads = static_cast<int>(threads);
  b.threads.resize(threads);
  Block* const outer = t_block;
  t_block = &b;
  std::vector<int64_t> order_ids(blocks);
  std::iota(order_ids.begin(), order_ids.end(), 0);
  switch (g_config.schedule) {
    case Schedule::kForward:
      break;
    case Schedule::kReverse:
      std::reverse(order_ids.begin(), order_ids.end());
      break;
    case Schedule::kRandom:
      std::shuffle(order_ids.begin(), order_ids.end(), rng);
      break;
    case Schedule::kWarps:  // the last block first, as its last warp
      std::reverse(order_ids.begin(), order_ids.end());
      break;
  }
  try {
    for (const int64_t id : order_ids) {
      const uint3 bi{static_cast<unsigned>(id % grid.x),
                     static_cast<unsigned>(id / grid.x % grid.y),
                     static_cast<unsigned>(id / (uint64_t(grid.x) * grid.y))};
      run_block(b, bi, grid, block, rng);
    }
  } catch (...) {
    t_block = outer;
    throw;  // reported to the host wrapper as c10::Error, not as a sticky CUDA error
  }
  t_block = outer;
}

}  // namespace emu
}  // namespace fasfast
