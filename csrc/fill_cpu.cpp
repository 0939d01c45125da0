// CPU fill orchestration: FillParams from the bounds, strided targets split into
// contiguous runs, work split across the pool. Values depend only on the logical index,
// so any split gives the same bits (docs/STREAM.md section 5).
#include "fill_cpu.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>

#include "kernels.h"
#include "threadpool.h"
#include "normal.h"
#include "value.h"

namespace fastinit {
namespace {

// Below this many elements a fill stays on the calling thread: waking a worker costs
// more than it saves (measured with benchmarks/bench_cpu.py).
constexpr uint64_t kParallelMinElems = 1 << 15;
// The unit of work a thread claims: about 10 us of AVX2 work, small enough that a late
// thread costs little, large enough that claiming is free.
constexpr uint64_t kChunkElems = 1 << 14;
// Non-temporal stores pay off once the target is well beyond the caches.
constexpr uint64_t kStreamMinBytes = 8ull << 20;
constexpr uint64_t kStreamMinRun = 64ull << 10;
// Runs shorter than this go through the scatter buffer instead of one kernel call each.
constexpr int64_t kDirectMinRun = 64;
constexpr uint64_t kScatterChunk = 1024;
// Transparent huge pages, opt-in (FASTINIT_HUGEPAGE=1): with THP in "madvise" mode,
// advising the 2 MiB-aligned interior of a large target before its first touch lets the
// kernel back it with huge pages. Measured here (README, Performance): a 1e8-float buffer
// allocated and freed repeatedly filled 3x faster with the advice, but sixty fresh 46 MB
// weights, the pattern of a model build, took 8.5-12.4 s with it against 2.9-6.7 s without,
// so it is off by default.
constexpr uint64_t kHugePage = 2ull << 20;
constexpr uint64_t kHugePageMinBytes = 4 * kHugePage;

std::atomic<int> g_hugepage_advice{-1};  // -1: not yet read from the environment

bool hugepage_advice_enabled() {
  int v = g_hugepage_advice.load(std::memory_order_relaxed);
  if (v < 0) {
    const char* env = std::getenv("FASTINIT_HUGEPAGE");
    v = env != nullptr && env[0] == '1' ? 1 : 0;
    g_hugepage_advice.store(v, std::memory_order_relaxed);
  }
  return v == 1;
}

// The whole pages of size `page` inside [begin, begin + bytes), as [lo, hi) (empty when
// hi <= lo): memory advice never reaches a page the range shares with other memory.
void inner_pages(const char* begin, uint64_t bytes, uintptr_t page, uintptr_t& lo, uintptr_t& hi) {
  lo = (reinterpret_cast<uintptr_t>(begin) + page - 1) & ~(page - 1);
  hi = (reinterpret_cast<uintptr_t>(begin) + bytes) & ~(page - 1);
}

void advise_hugepages(char* begin, uint64_t bytes) {
  if (bytes < kHugePageMinBytes || !hugepage_advice_enabled()) return;
  uintptr_t lo, hi;
  inner_pages(begin, bytes, kHugePage, lo, hi);
#if defined(MADV_HUGEPAGE)
  // Advice only: memory that is not an anonymous mapping answers EINVAL, which is fine.
  if (hi > lo) (void)madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_HUGEPAGE);
#else
  (void)lo, (void)hi;
#endif
}

// Fresh memory (issue 13): the first touch of a fresh 4 KiB page costs a fault (trap,
// zeroing, page-table update), and two threads faulting in one mapping contend in the
// kernel. MADV_POPULATE_WRITE (Linux 5.14) faults a whole range in one call, without the
// traps. Measured here (benchmarks/bench_hugepage.py, fresh processes, 2 threads): a fresh
// torch.empty(8192, 8192) + kaiming_uniform_ went from about 1.5x the time of
// torch.empty + fill_(0.5) to about that of fill_.
//
// The populate runs chunk by chunk, on the thread that fills the chunk, just before its
// stores (issue 20), instead of over the whole target first: the pages are written soon
// after the kernel zeroed them, and no thread waits for a populate it does not share.
// Chunks are 2 MiB, or an equal share per thread of a smaller target. Measured here (AMD
// EPYC Zen 5, 2 threads, fresh (rows, 2048) float32 tensors, fresh processes, 9 rounds
// alternating; benchmarks/bench_fresh.py, benchmarks/results/bench_fresh_zen5.txt), time
// before / after (medians of the paired ratios):
//   2 MiB tensors (x1000): normal_ 1.61x, uniform_ 1.88x faster (0.786 -> 0.488 s;
//                          the floor, torch.empty + fill_, 0.389 s);
//   8 MiB (x300): 1.02x, 1.01x;  32 MiB (x80): 1.03x, 1.01x.
// Chunks of 256 KiB were 8-12% slower than the whole-target populate at 32 MiB.
//
// Only targets that look fresh are populated: the first, middle and last pages of the
// range are asked with mincore(); any one not resident means fresh, and resident memory
// pays three system calls.
constexpr uint64_t kPopulateMinBytes = 1ull << 20;
// A fresh target is claimed in chunks of at most this many bytes, one populate call each.
constexpr uint64_t kFreshChunkBytes = 2ull << 20;
#if defined(__linux__) && !defined(MADV_POPULATE_WRITE)
#define MADV_POPULATE_WRITE 23
#endif
std::atomic<bool> g_populate_unsupported{false};  // the kernel answered EINVAL once

bool page_resident(uintptr_t page, uintptr_t page_size) {
  unsigned char v = 0;
  // On error (not mapped, not supported) say resident: then nothing is done.
  return mincore(reinterpret_cast<void*>(page), page_size, &v) != 0 || (v & 1) != 0;
}

uintptr_t page_size() {
  static const uintptr_t ps = [] {
    const long v = sysconf(_SC_PAGESIZE);
    return v > 0 ? static_cast<uintptr_t>(v) : uintptr_t{0};
  }();
  return ps;
}

bool looks_fresh(const char* begin, uint64_t bytes) {
#if defined(MADV_POPULATE_WRITE)
  if (bytes < kPopulateMinBytes || g_populate_unsupported.load(std::memory_order_relaxed)) return false;
  const uintptr_t page = page_size();
  if (page == 0) return false;
  uintptr_t lo, hi;
  inner_pages(begin, bytes, page, lo, hi);
  if (hi <= lo) return false;
  const uintptr_t mid = lo + (((hi - lo) / 2) & ~(page - 1));
  return !(page_resident(lo, page) && page_resident(mid, page) && page_resident(hi - page, page));
#else
  (void)begin, (void)bytes;
  return false;
#endif
}

// Faults in the inner pages of [begin, begin + bytes) (the chunk a thread fills next).
void populate(char* begin, uint64_t bytes) {
#if defined(MADV_POPULATE_WRITE)
  const uintptr_t page = page_size();
  if (page == 0 || g_populate_unsupported.load(std::memory_order_relaxed)) return;
  uintptr_t lo, hi;
  inner_pages(begin, bytes, page, lo, hi);
  if (hi <= lo) return;
  // Advice only: EINVAL (an older kernel, or a mapping it cannot populate) and EFAULT /
  // ENOMEM leave the pages to the fill's own first touch.
  if (madvise(reinterpret_cast<void*>(lo), hi - lo, MADV_POPULATE_WRITE) != 0 && errno == EINVAL)
    g_populate_unsupported.store(true, std::memory_order_relaxed);
#else
  (void)begin, (void)bytes;
#endif
}

float f16_bits_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  if (exp == 0) return bits_to_f32(sign) + (sign ? -1.0f : 1.0f) * static_cast<float>(mant) * 0x1p-24f;
  if (exp == 31) return bits_to_f32(sign | 0x7f800000u | (mant << 13));
  return bits_to_f32(sign | ((exp + 112) << 23) | (mant << 13));
}

// x rounded to the storage type, as a float (exact: storage values are floats).
float to_storage(float x, int32_t dtype) {
  if (dtype == kFloat16) return f16_bits_to_f32(f32_to_f16_bits(x));
  if (dtype == kBFloat16) return bits_to_f32(static_cast<uint32_t>(f32_to_bf16_bits(x)) << 16);
  return x;
}

uint16_t storage_bits(float x, int32_t dtype) {
  return dtype == kFloat16 ? f32_to_f16_bits(x) : f32_to_bf16_bits(x);
}
float storage_value(uint16_t h, int32_t dtype) {
  return dtype == kFloat16 ? f16_bits_to_f32(h) : bits_to_f32(static_cast<uint32_t>(h) << 16);
}

// A double rounded to nearest-even in the storage type. Rounding via float first can
// only go wrong at a storage tie, so the guess and its two storage neighbours are
// compared exactly in double.
float round_storage(double x, int32_t dtype) {
  const float guess = to_storage(static_cast<float>(x), dtype);
  if (dtype == kFloat32) return guess;
  const uint16_t g = storage_bits(guess, dtype);
  // Sign-magnitude bits to a numeric-order key and back (-0 and +0 share key 0).
  const int k = g & 0x8000 ? -(g & 0x7fff) : (g & 0x7fff);
  uint16_t best = g;
  for (int kn : {k - 1, k + 1}) {
    const uint16_t h = static_cast<uint16_t>(kn < 0 ? 0x8000 | -kn : kn);
    const float cand = storage_value(h, dtype);
    if (!std::isfinite(cand)) continue;
    const double dc = std::fabs(static_cast<double>(cand) - x);
    const double db = std::fabs(static_cast<double>(storage_value(best, dtype)) - x);
    if (dc < db || (dc == db && (h & 1) == 0)) best = h;
  }
  return storage_value(best, dtype);
}

// The smallest float whose storage rounding is >= h (numerically), by bisection over
// floats in numeric order.
float storage_threshold(float h, int32_t dtype) {
  auto key = [](float f) -> int64_t {
    const uint32_t b = f32_to_bits(f);
    return b >> 31 ? -static_cast<int64_t>(b & 0x7fffffffu) - 1 : static_cast<int64_t>(b);
  };
  auto from_key = [](int64_t k) -> float {
    return k < 0 ? bits_to_f32(static_cast<uint32_t>(-(k + 1)) | 0x80000000u) : bits_to_f32(static_cast<uint32_t>(k));
  };
  int64_t lo = key(-std::numeric_limits<float>::max()), hi = key(h);  // predicate true at hi
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (to_storage(from_key(mid), dtype) >= h) hi = mid;
    else lo = mid + 1;
  }
  return from_key(hi);
}

}  // namespace

void set_hugepage_advice(bool enabled) { g_hugepage_advice.store(enabled ? 1 : 0, std::memory_order_relaxed); }
bool get_hugepage_advice() { return hugepage_advice_enabled(); }

FillParams make_fill_params(int32_t dtype, double lo, double hi, uint64_t seed) {
  FillParams p{};
  p.seed = seed;
  p.dtype = dtype;
  p.lo64 = lo;
  p.scale64 = hi - lo;
  p.top64 = hi;
  p.repl64 = lo;
  p.lo32 = static_cast<float>(lo);
  const float hi32 = static_cast<float>(hi);
  p.scale32 = hi32 - p.lo32;
  p.top32 = storage_threshold(round_storage(hi, dtype), dtype);
  p.repl32 = round_storage(lo, dtype);
  return p;
}

FillParams make_normal_params(int32_t dtype, double mean, double std, uint64_t seed) {
  FillParams p{};
  p.seed = seed;
  p.dtype = dtype;
  p.dist = kNormal;
  p.mean64 = mean;
  p.std64 = std;
  p.mean32 = static_cast<float>(mean);
  p.std32 = static_cast<float>(std);
  return p;
}

// docs/STREAM.md, truncated normal: the sampled side is the lower one (mirrored when
// alpha + beta > 0), so p_lo and p_hi are small numbers with full relative precision.
FillParams make_trunc_normal_params(int32_t dtype, double mean, double std, double a, double b, uint64_t seed) {
  FillParams p = make_normal_params(dtype, mean, std, seed);
  p.dist = kTruncNormal;
  const double alpha = (a - mean) / std, beta = (b - mean) / std;
  const bool mirror = alpha + beta > 0;
  const double lo = mirror ? -beta : alpha, hi = mirror ? -alpha : beta;
  const double plo = ndtr64(lo), phi = ndtr64(hi);
  p.plo64 = plo;
  p.span64 = phi - plo;
  p.flip64 = mirror ? -1.0 : 1.0;
  p.a64 = a;
  p.b64 = b;
  p.plo32 = static_cast<float>(p.plo64);
  p.span32 = static_cast<float>(p.span64);
  p.flip32 = static_cast<float>(p.flip64);
  p.a32 = static_cast<float>(a);
  p.b32 = static_cast<float>(b);
  return p;
}

bool coalesce(FillTarget& t) {
  int nd = 0;
  for (int d = 0; d < t.ndim; ++d) {
    if (t.sizes[d] == 0) return false;
    if (t.sizes[d] == 1) continue;
    if (nd > 0 && t.strides[nd - 1] == t.strides[d] * t.sizes[d] &&
        t.istrides[nd - 1] == t.istrides[d] * t.sizes[d]) {
      t.sizes[nd - 1] *= t.sizes[d];
      t.strides[nd - 1] = t.strides[d];
      t.istrides[nd - 1] = t.istrides[d];
      continue;
    }
    t.sizes[nd] = t.sizes[d];
    t.strides[nd] = t.strides[d];
    t.istrides[nd] = t.istrides[d];
    ++nd;
  }
  if (nd == 0) {  // a single element
    t.sizes[0] = 1;
    t.strides[0] = 0;
    t.istrides[0] = 1;
    nd = 1;
  }
  t.ndim = nd;
  return true;
}

uint64_t numel(const FillTarget& t) {
  uint64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= static_cast<uint64_t>(t.sizes[d]);
  return n;
}

bool prepare_cpu_target(const FillTarget& target, int32_t dtype) {
  FillTarget t = target;
  if (!coalesce(t)) return false;
  const int64_t esz = dtype_size(dtype);
  if (t.ndim != 1 || t.strides[0] != esz) return false;
  char* data = static_cast<char*>(t.data);
  const uint64_t bytes = numel(t) * static_cast<uint64_t>(esz);
  // With huge-page advice the first touch faults 2 MiB at a time already.
  if (hugepage_advice_enabled()) {
    advise_hugepages(data, bytes);
    return false;
  }
  return looks_fresh(data, bytes);
}

void fill_cpu(FillTarget t, const FillParams& p, RunKernel kernel, int threads, uint64_t begin, uint64_t end,
              bool fresh) {
  if (!coalesce(t)) return;
  const int nd = t.ndim;
  const int64_t esz = dtype_size(p.dtype);
  const uint64_t total = numel(t);
  end = std::min(end, total);
  if (begin >= end) return;
  const int64_t inner = t.sizes[nd - 1], mstride = t.strides[nd - 1];
  // Positions [k * run, (k + 1) * run) have consecutive stream indices; a kernel call
  // never crosses such a boundary (a whole tensor is one run; a box of a sharded tensor
  // has one per row of the box).
  const uint64_t run = stream_run(t);
  auto first_index = [&](uint64_t pos) { return run >= total ? t.offset + pos : stream_index(t, pos); };
  const bool direct = mstride == esz && run > 1 && (inner >= kDirectMinRun || nd == 1);
  // Streaming stores only in long runs: each kernel call ends with a store fence. Measured
  // here, one thread, an (8192, 2048) float32 column shard of an (8192, 8192) tensor (rows
  // of 8 KiB): 0.99 G/s streaming, 1.25 G/s not; the whole tensor's fill 1.33-1.48 G/s.
  const bool stream = direct && total * esz >= kStreamMinBytes && std::min<uint64_t>(inner, run) * esz >= kStreamMinRun;

  const uint64_t count = end - begin;
  // (get_num_threads asks the kernel for the affinity mask: a system call that a small
  // fill, which stays on this thread anyway, does not need; issue 20 item 4.)
  if (count < kParallelMinElems) threads = 1;
  else if (threads <= 0) threads = get_num_threads();
  // Chunks of kChunkElems (a multiple of 64, so block- and line-aligned), claimed
  // dynamically by the threads; a fresh target's are larger (one populate call each).
  uint64_t step = kChunkElems;
  if (fresh) {
    const uint64_t per = count / static_cast<uint64_t>(threads);  // a smaller target: one share each
    step = std::max(kChunkElems, std::min(kFreshChunkBytes / static_cast<uint64_t>(esz), per) & ~uint64_t{63});
  }
  const int64_t parts = static_cast<int64_t>((count + step - 1) / step);

  auto work = [&](int64_t part) {
    uint64_t pos = begin + static_cast<uint64_t>(part) * step;
    if (pos >= end) return;
    const uint64_t stop = std::min(end, pos + step);
    char* base = static_cast<char*>(t.data);
    // Multi-index of pos over the outer dims, and the address of its row.
    int64_t idx[kMaxDims];
    uint64_t rest = pos / static_cast<uint64_t>(inner);
    char* row = base;
    for (int d = nd - 2; d >= 0; --d) {
      idx[d] = static_cast<int64_t>(rest % static_cast<uint64_t>(t.sizes[d]));
      rest /= static_cast<uint64_t>(t.sizes[d]);
      row += idx[d] * t.strides[d];
    }
    int64_t col = static_cast<int64_t>(pos % static_cast<uint64_t>(inner));
    auto next_row = [&] {
      col = 0;
      for (int d = nd - 2; d >= 0; --d) {
        row += t.strides[d];
        if (++idx[d] < t.sizes[d]) return;
        row -= idx[d] * t.strides[d];
        idx[d] = 0;
      }
    };
    if (direct) {
      while (pos < stop) {
        const uint64_t len = std::min({static_cast<uint64_t>(inner - col), stop - pos, run - pos % run});
        if (fresh) populate(row + col * mstride, len * static_cast<uint64_t>(esz));
        kernel(p, row + col * mstride, len, first_index(pos), stream);
        pos += len;
        col += static_cast<int64_t>(len);
        if (col == inner) next_row();
      }
      return;
    }
    alignas(64) char buf[kScatterChunk * 8];
    while (pos < stop) {
      const uint64_t len = std::min({kScatterChunk, stop - pos, run - pos % run});
      kernel(p, buf, len, first_index(pos), false);
      for (uint64_t j = 0; j < len; ++j) {
        memcpy(row + col * mstride, buf + j * esz, static_cast<size_t>(esz));
        if (++col == inner) next_row();
      }
      pos += len;
    }
  };
  parallel_for(threads, parts, work);
}

}  // namespace fastinit
