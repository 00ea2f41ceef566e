// The CPU output cache (see output_cache.h) and its ops:
// output_cache_info() -> [cached bytes, limit bytes, hits, misses], output_cache_clear(),
// and output_cache_for_all(bool): while on, the cache is torch's CPU allocator, so every
// CPU tensor of >= 1 MiB (not only the fused ops' outputs) reuses freed blocks. Benchmarks
// use it to give the eager and compiled references the same allocator as the fused ops.
#include "output_cache.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/library.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <iterator>
#include <memory>
#include <mutex>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fasfast {
namespace {

constexpr size_t kMinBytes = size_t(1) << 20;  // smaller outputs use torch's allocator
constexpr size_t kHuge = size_t(2) << 20;        // transparent huge page size (x86-64)

// Cache colouring. Blocks are 2 MiB aligned, so without an offset every cached tensor
// would start at the same address bits, and a kernel streaming rows of two such tensors
// (z and y of the DIIRF, T rows each, P values apart) keeps all its streams in the same L2
// sets: the 64x64 forward took 3.7 ms with z and y at the same offset, 1.6-1.8 ms with
// them 128 B to 32 KiB apart, and its backward 2.9-3.1 ms below 1 KiB apart, 2.0 ms from
// 4 KiB. Each new block's data starts kColourStep * (k % kColours) bytes in (k counts new
// blocks): neighbouring colours are 4.6 KiB apart, and all 32 differ in their L1 and L2 sets
// (73 lines per step; 73 is odd).
constexpr size_t kColourStep = 73 * 64;
constexpr size_t kColours = 32;

struct Block {
  void* ptr;     // what posix_memalign returned
  size_t bytes;  // its size (a multiple of 2 MiB)
  size_t offset; // where the tensor's data starts (the block's colour)
};

size_t limit_from_env() {
  const char* s = std::getenv("FASFAST_CPU_CACHE_MB");
  if (s == nullptr || *s == '\0') return size_t(512) << 20;
  char* end = nullptr;
  const long long mb = std::strtoll(s, &end, 10);
  TORCH_CHECK(end != s && *end == '\0' && mb >= 0,
              "FASFAST_CPU_CACHE_MB must be a non-negative integer (MiB), got '", s, "'");
  return size_t(mb) << 20;
}

class OutputCache final : public c10::Allocator {
 public:
  // `fallback_`: torch's CPU allocator when the cache was made (before output_cache_for_all
  // can install the cache in its place), for blocks under 1 MiB.
  OutputCache() : limit_(limit_from_env()), fallback_(c10::GetCPUAllocator()) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < kMinBytes || limit_ == 0) return fallback_->allocate(n);
    const size_t bytes = (n + kColourStep * (kColours - 1) + kHuge - 1) / kHuge * kHuge;
    std::unique_ptr<Block> block;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // The most recently freed block of this size: the likeliest still in cache.
      for (auto it = free_.rbegin(); it != free_.rend(); ++it) {
        if (it->bytes == bytes) {
          block = std::make_unique<Block>(*it);
          cached_ -= bytes;
          free_.erase(std::next(it).base());
          break;
        }
      }
      ++(block != nullptr ? hits_ : misses_);
      if (block == nullptr) {
        block.reset(new Block{nullptr, bytes, kColourStep * (colour_++ % kColours)});
      }
    }
    if (block->ptr == nullptr) block->ptr = fresh(bytes);
    void* data = static_cast<char*>(block->ptr) + block->offset;
    return {data, block.release(), &release, c10::Device(c10::DeviceType::CPU)};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override {
    default_copy_data(dest, src, count);
  }

  std::vector<int64_t> info() {
    std::lock_guard<std::mutex> lock(mu_);
    return {int64_t(cached_), int64_t(limit_), hits_, misses_};
  }

  void clear() {
    std::deque<Block> drop;
    {
      std::lock_guard<std::mutex> lock(mu_);
      drop.swap(free_);
      cached_ = 0;
    }
    for (const Block& b : drop) std::free(b.ptr);
  }

 private:
  static void* fresh(size_t bytes) {
    void* ptr = nullptr;
    TORCH_CHECK(posix_memalign(&ptr, kHuge, bytes) == 0 && ptr != nullptr,
                "fasfast: out of memory allocating ", bytes, " bytes for an output");
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    (void)madvise(ptr, bytes, MADV_HUGEPAGE);  // a hint; a no-op where THP is off
#endif
    return ptr;
  }

  static void release(void* ctx);

  std::mutex mu_;
  std::deque<Block> free_;  // oldest first
  size_t cached_ = 0;
  const size_t limit_;
  int64_t hits_ = 0, misses_ = 0;
  size_t colour_ = 0;  // new blocks so far

 public:
  c10::Allocator* const fallback_;
};

// Never destroyed: tensors may outlive static destruction at exit.
OutputCache& cache() {
  static auto* c = new OutputCache();
  return *c;
}

void OutputCache::release(void* ctx) {
  auto* block = static_cast<Block*>(ctx);
  OutputCache& c = cache();
  std::deque<Block> evict;
  bool keep = false;
  {
    std::lock_guard<std::mutex> lock(c.mu_);
    if (block->bytes <= c.limit_) {
      while (c.cached_ + block->bytes > c.limit_) {
        evict.push_back(c.free_.front());
        c.cached_ -= c.free_.front().bytes;
        c.free_.pop_front();
      }
      c.free_.push_back(*block);
      c.cached_ += block->bytes;
      keep = true;
    }
  }
  for (const Block& b : evict) std::free(b.ptr);
  if (!keep) std::free(block->ptr);
  delete block;
}

std::vector<int64_t> output_cache_info() { return cache().info(); }
void output_cache_clear() { cache().clear(); }

void output_cache_for_all(bool enable) {
  OutputCache& c = cache();  // made (and its fallback taken) before any swap
  c10::SetCPUAllocator(enable ? static_cast<c10::Allocator*>(&c) : c.fallback_, /*priority=*/0);
}

}  // namespace

at::Tensor empty_output(at::IntArrayRef sizes, const at::TensorOptions& options) {
  TORCH_INTERNAL_ASSERT(options.device().is_cpu());
  return at::Tensor(at::detail::empty_generic(sizes, &cache(), c10::DispatchKeySet(c10::DispatchKey::CPU),
                                   c10::typeMetaToScalarType(options.dtype()),
                                   c10::MemoryFormat::Contiguous));
}

}  // namespace fasfast

TORCH_LIBRARY_FRAGMENT(fasfast, m) {
  m.def("output_cache_info() -> int[]");
  m.def("output_cache_clear() -> ()");
  m.def("output_cache_for_all(bool enable) -> ()");
}

TORCH_LIBRARY_IMPL(fasfast, CompositeExplicitAutograd, m) {
  m.impl("output_cache_info", &fasfast::output_cache_info);
  m.impl("output_cache_clear", &fasfast::output_cache_clear);
  m.impl("output_cache_for_all", &fasfast::output_cache_for_all);
}
