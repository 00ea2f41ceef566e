// The CPU output cache (see output_cache.h) and its two ops:
// output_cache_info() -> [cached bytes, limit bytes, hits, misses] and output_cache_clear().
#include "output_cache.h"

#include <ATen/EmptyTensor.h>
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <torch/library.h>

#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace fasfast {
namespace {

constexpr size_t kMinBytes = size_t(1) << 20;  // smaller outputs use torch's allocator
constexpr size_t kHuge = size_t(2) << 20;        // transparent huge page size (x86-64)

struct Block {
  void* ptr;
  size_t bytes;
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
  OutputCache() : limit_(limit_from_env()) {}

  c10::DataPtr allocate(size_t n) override {
    if (n < kMinBytes || limit_ == 0) return c10::GetCPUAllocator()->allocate(n);
    const size_t bytes = (n + kHuge - 1) / kHuge * kHuge;
    void* ptr = nullptr;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = free_.begin(); it != free_.end(); ++it) {
        if (it->bytes == bytes) {
          ptr = it->ptr;
          cached_ -= bytes;
          free_.erase(it);
          break;
        }
      }
      ++(ptr != nullptr ? hits_ : misses_);
    }
    if (ptr == nullptr) ptr = fresh(bytes);
    return {ptr, new Block{ptr, bytes}, &release, c10::Device(c10::DeviceType::CPU)};
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
}

TORCH_LIBRARY_IMPL(fasfast, CompositeExplicitAutograd, m) {
  m.impl("output_cache_info", &fasfast::output_cache_info);
  m.impl("output_cache_clear", &fasfast::output_cache_clear);
}
