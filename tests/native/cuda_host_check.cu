// The CUDA kernels' per-thread code, run serially on the host, bit for bit against the
// CPU fill and against an independent reference: verifies the CUDA indexing logic
// (coalesce, plan_contig / plan_strided, contig_work / strided_work, the stream index of
// every element, every store address) on machines without a GPU.
//
// tests/native/cuda_host_check.sh compiles this file with nvcc as a host program. It
// #includes csrc/fill_cuda.cu, whose work functions are FASTINIT_HD (host + device), and
// for each target does what fill_cuda() does (coalesce, then plan_contig or plan_strided)
// and then calls contig_work / strided_work for every tid in [0, nthreads), for several
// nthreads, into a buffer with guard bytes. Nothing here calls the CUDA runtime, so no
// GPU or driver is needed.
//
// What this does NOT verify: device code generation. The values are computed by the
// host compiler from the same inline code (value.h, normal.h, philox.h) the CPU paths
// use; that the device compiler gives the same bits is tests/test_cuda.py's job on a GPU.
//
// Every case is a box of a global row-major tensor (a whole tensor is the box with corner
// 0 and the global shape): sizes = the box's, istrides = the global shape's row-major
// strides, offset = base + the corner's global index, in a memory layout of its own
// (any dim order, padding, odd / misaligned / negative byte strides). Three buffers are
// compared byte for byte, guard bytes and the gaps between elements included:
//   expected: guard pattern, then every element copied from a contiguous fill of the
//             whole global tensor at stream position `base` (scalar kernel; independent of
//             istrides, coalesce and fill_cpu);
//   cpu:      fastinit::fill_cpu with the scalar kernel;
//   cuda:     the host emulation, once per nthreads value.
//
// nthreads: both kernels are grid-stride loops (contig_work's <= 10 edge elements too) and
// are run with 1, 7, 256 and the launch's real thread count (grid_for with 32 resident blocks, so large
// fills loop).
// Threads run in increasing tid order, except for one nthreads value run in decreasing
// order: two threads writing one element with different bits then shows up.
//
// Prints one line per failing check (the first kMaxPrinted) and "N passed, M failed";
// exits 1 if any check failed.
#include "fill_cuda.cu"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "fill_cpu.h"
#include "kernels.h"
#include "check_common.h"

namespace {

using fastinit::FillParams;
using fastinit::FillTarget;
using fastinit::kMaxDims;

using fastinit_check::dtype_name;
using fastinit_check::kGuard;
using fastinit_check::kGuardBytes;
constexpr int kMaxPrinted = 60;

const char* dist_name(int32_t d) {
  switch (d) {
    case fastinit::kNormal: return "normal";
    case fastinit::kTruncNormal: return "trunc_normal";
    default: return "uniform";
  }
}

// splitmix64: the fixed-seed source of the random cases.
struct Rng {
  uint64_t s;
  uint64_t next() {
    uint64_t z = (s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  int64_t range(int64_t lo, int64_t hi) { return lo + static_cast<int64_t>(below(static_cast<uint64_t>(hi - lo + 1))); }
  bool chance(int percent) { return below(100) < static_cast<uint64_t>(percent); }
};

// One ulp above 1.0 in the storage type: uniform on [1, 1 + ulp) makes the "never
// return hi" replacement fire for many elements.
double narrow_hi(int32_t d) {
  switch (d) {
    case fastinit::kFloat32: return 1.0 + std::ldexp(1.0, -23);
    case fastinit::kFloat64: return 1.0 + std::ldexp(1.0, -52);
    case fastinit::kFloat16: return 1.0 + std::ldexp(1.0, -10);
    default: return 1.0078125;
  }
}

// Parameter sets per distribution (variant picks one), built as the binding builds them.
FillParams make_params(int32_t dtype, int32_t dist, int variant, uint64_t seed) {
  switch (dist) {
    case fastinit::kNormal:
      return variant % 2 == 0 ? fastinit::make_normal_params(dtype, 0.0, 0.02, seed)
                              : fastinit::make_normal_params(dtype, 1.5, 3.0, seed);
    case fastinit::kTruncNormal:
      return variant % 2 == 0 ? fastinit::make_trunc_normal_params(dtype, 0.0, 1.0, -2.0, 2.0, seed)
                              : fastinit::make_trunc_normal_params(dtype, 0.5, 2.0, 1.0, 4.0, seed);  // mirrored
    default:
      return variant % 2 == 0 ? fastinit::make_fill_params(dtype, -0.125, 0.0625, seed)
                              : fastinit::make_fill_params(dtype, 1.0, narrow_hi(dtype), seed);
  }
}

// A box of a global row-major tensor, and the memory layout of the box.
struct Case {
  std::string what;
  int ndim = 1;
  int64_t global[kMaxDims];
  int64_t corner[kMaxDims];
  int64_t box[kMaxDims];
  uint64_t base = 0;        // stream index of global element 0
  int order[kMaxDims];      // memory order, innermost first (dims of the box)
  int64_t inner_extra = 0;  // extra bytes in the innermost memory stride (odd / misaligned)
  int64_t pad[kMaxDims];    // extra bytes added after each memory dim (by memory order)
  bool negative[kMaxDims];  // that dim's stride is negated
  int64_t mis = 0;          // byte misalignment of the lowest address, from 64
};

Case plain_case(const std::string& what, std::vector<int64_t> global) {
  Case c;
  c.what = what;
  c.ndim = static_cast<int>(global.size());
  for (int d = 0; d < c.ndim; ++d) {
    c.global[d] = global[d];
    c.corner[d] = 0;
    c.box[d] = global[d];
    c.order[d] = c.ndim - 1 - d;
    c.pad[d] = 0;
    c.negative[d] = false;
  }
  return c;
}

Case box_case(const std::string& what, std::vector<int64_t> global, std::vector<int64_t> corner, std::vector<int64_t> box) {
  Case c = plain_case(what, global);
  for (int d = 0; d < c.ndim; ++d) {
    c.corner[d] = corner[d];
    c.box[d] = box[d];
  }
  return c;
}

struct Checker {
  long passed = 0, failed = 0;
  long emulated_contig = 0, emulated_strided = 0;
  // Coverage: contiguous launches by store width; strided ones by shape of the work.
  long width_count[17] = {};
  long strided_one_row = 0, strided_unit_runs = 0, strided_many_runs = 0, strided_looped = 0;
  std::vector<unsigned char> expected_mem, cpu_mem, cuda_mem, ref_mem;
  fastinit::RunKernel scalar = fastinit::isa_kernel(fastinit::kIsaScalar);

  static unsigned char* aligned(std::vector<unsigned char>& mem, size_t bytes) {
    if (mem.size() < bytes + 64) mem.resize(bytes + 64);
    const uintptr_t a = (reinterpret_cast<uintptr_t>(mem.data()) + 63) & ~uintptr_t{63};
    return reinterpret_cast<unsigned char*>(a);
  }

  void report(const Case& c, int32_t dtype, int32_t dist, const char* who, const unsigned char* got,
              const unsigned char* want, size_t total, int64_t data_at, const FillTarget& t) {
    ++failed;
    if (failed > kMaxPrinted) return;
    size_t at = 0;
    while (at < total && got[at] == want[at]) ++at;
    std::string shape;
    for (int d = 0; d < c.ndim; ++d)
      shape += std::to_string(c.box[d]) + "@" + std::to_string(c.corner[d]) + "/" + std::to_string(c.global[d]) +
               (d + 1 < c.ndim ? "," : "");
    std::string strides, istrides;
    for (int d = 0; d < t.ndim; ++d) {
      strides += std::to_string(t.strides[d]) + (d + 1 < t.ndim ? "," : "");
      istrides += std::to_string(t.istrides[d]) + (d + 1 < t.ndim ? "," : "");
    }
    std::printf("FAIL %s [%s] %s %s: box(size@corner/global)=[%s] strides=[%s] istrides=[%s] offset=%llu "
                "base=%llu mis=%lld: first differing byte at data%+lld (got %02x want %02x)\n",
                who, c.what.c_str(), dtype_name(dtype), dist_name(dist), shape.c_str(), strides.c_str(),
                istrides.c_str(), static_cast<unsigned long long>(t.offset), static_cast<unsigned long long>(c.base),
                static_cast<long long>(c.mis), static_cast<long long>(static_cast<int64_t>(at) - data_at),
                at < total ? got[at] : 0, at < total ? want[at] : 0);
  }

  // Runs the kernels' per-thread code for every tid, as fill_cuda() would launch it.
  // nthreads == 0: the launch's real thread count (grid_for with 32 resident blocks: one SM at full occupancy).
  template <int D, int Dist, int W>
  void run_contig(const fastinit::cudafill::ContigArgs& a, uint64_t nthreads, bool reverse) {
    for (uint64_t k = 0; k < nthreads; ++k)
      fastinit::cudafill::contig_work<D, Dist, W>(a, reverse ? nthreads - 1 - k : k, nthreads);
  }

  template <int D, int Dist>
  void emulate_typed(const FillTarget& t, const FillParams& p, int variant) {
    using namespace fastinit::cudafill;
    ContigArgs c;
    int width = 16;
    if (plan_contig<D>(t, p, c, width)) {
      ++emulated_contig;
      ++width_count[width];
      const uint64_t real = grid_for(std::max(c.chunks, c.head + c.tail), 32) * static_cast<uint64_t>(kThreads);
      const uint64_t nthreads = variant == 0 ? 1 : variant == 1 ? 7 : variant == 2 ? 256 : real;
      const bool reverse = variant == 2;
      switch (width) {
        case 16: run_contig<D, Dist, 16>(c, nthreads, reverse); break;
        case 8: run_contig<D, Dist, 8>(c, nthreads, reverse); break;
        case 4: run_contig<D, Dist, 4>(c, nthreads, reverse); break;
        case 2: run_contig<D, Dist, 2>(c, nthreads, reverse); break;
        default: run_contig<D, Dist, 1>(c, nthreads, reverse); break;
      }
      return;
    }
    ++emulated_strided;
    const StridedArgs a = plan_strided<D>(t, p);
    const uint64_t real = grid_for(a.rows * a.gpr, 32) * static_cast<uint64_t>(kThreads);
    const uint64_t nthreads = variant == 0 ? 1 : variant == 1 ? 7 : variant == 2 ? 256 : real;
    if (variant == 3) {
      ++(a.rows == 1 ? strided_one_row : a.run == 1 ? strided_unit_runs : strided_many_runs);
      if (a.rows * a.gpr > real) ++strided_looped;
    }
    const bool reverse = variant == 2;
    for (uint64_t k = 0; k < nthreads; ++k) strided_work<D, Dist>(a, reverse ? nthreads - 1 - k : k, nthreads);
  }

  template <int D>
  void emulate_dist(const FillTarget& t, const FillParams& p, int variant) {
    switch (p.dist) {
      case fastinit::kNormal: return emulate_typed<D, fastinit::kNormal>(t, p, variant);
      case fastinit::kTruncNormal: return emulate_typed<D, fastinit::kTruncNormal>(t, p, variant);
      default: return emulate_typed<D, fastinit::kUniform>(t, p, variant);
    }
  }

  // fill_cuda()'s host part, with the launch replaced by the serial emulation.
  void emulate(const FillTarget& target, const FillParams& p, int variant) {
    FillTarget t = target;
    if (!fastinit::coalesce(t)) return;
    switch (p.dtype) {
      case fastinit::kFloat32: emulate_dist<fastinit::kFloat32>(t, p, variant); break;
      case fastinit::kFloat64: emulate_dist<fastinit::kFloat64>(t, p, variant); break;
      case fastinit::kFloat16: emulate_dist<fastinit::kFloat16>(t, p, variant); break;
      default: emulate_dist<fastinit::kBFloat16>(t, p, variant); break;
    }
  }

  void check(const Case& c, int32_t dtype, int32_t dist, int pvariant, uint64_t seed) {
    const FillParams p = make_params(dtype, dist, pvariant, seed);
    const int64_t esz = fastinit::dtype_size(dtype);
    const int nd = c.ndim;

    // Memory strides of the box, innermost memory dim first; the lowest and highest byte
    // any element occupies, relative to element 0. The layout never overlaps elements.
    bool seen[kMaxDims] = {};
    for (int k = 0; k < nd; ++k) {
      if (c.order[k] < 0 || c.order[k] >= nd || seen[c.order[k]]) {
        std::printf("BAD CASE %s: memory order is not a permutation\n", c.what.c_str());
        std::exit(2);
      }
      seen[c.order[k]] = true;
    }
    int64_t strides[kMaxDims];
    int64_t cur = esz + c.inner_extra;
    for (int k = 0; k < nd; ++k) {
      const int d = c.order[k];
      strides[d] = cur;
      cur = cur * std::max<int64_t>(c.box[d], 1) + c.pad[k];
    }
    int64_t lo = 0, hi = esz;
    uint64_t n = 1;
    for (int d = 0; d < nd; ++d) {
      if (c.negative[d]) strides[d] = -strides[d];
      const int64_t ext = (c.box[d] > 0 ? c.box[d] - 1 : 0) * strides[d];
      if (ext < 0) lo += ext;
      else hi += ext;
      n *= static_cast<uint64_t>(c.box[d]);
    }
    const size_t span = static_cast<size_t>(hi - lo);
    const size_t total = kGuardBytes + static_cast<size_t>(c.mis) + span + kGuardBytes;
    unsigned char* expected = aligned(expected_mem, total);
    unsigned char* cpu = aligned(cpu_mem, total);
    unsigned char* cuda = aligned(cuda_mem, total);
    const int64_t data_at = static_cast<int64_t>(kGuardBytes) + c.mis - lo;

    // Stream index strides and offset: the global shape's row-major strides, the corner.
    int64_t istrides[kMaxDims];
    uint64_t gnumel = 1, offset = c.base;
    for (int d = nd - 1; d >= 0; --d) {
      istrides[d] = static_cast<int64_t>(gnumel);
      offset += static_cast<uint64_t>(c.corner[d]) * gnumel;
      gnumel *= static_cast<uint64_t>(c.global[d]);
    }

    // expected: the whole global tensor filled contiguously from `base`, the box's
    // elements copied out of it to their addresses.
    memset(expected, kGuard, total);
    if (n > 0) {
      unsigned char* ref = aligned(ref_mem, static_cast<size_t>(gnumel * esz));
      scalar(p, ref, gnumel, c.base, false);
      int64_t idx[kMaxDims] = {};
      for (uint64_t k = 0; k < n; ++k) {
        int64_t addr = data_at;
        uint64_t g = 0;
        for (int d = 0; d < nd; ++d) {
          addr += idx[d] * strides[d];
          g = g * static_cast<uint64_t>(c.global[d]) + static_cast<uint64_t>(c.corner[d] + idx[d]);
        }
        memcpy(expected + addr, ref + g * esz, static_cast<size_t>(esz));
        for (int d = nd - 1; d >= 0; --d) {
          if (++idx[d] < c.box[d]) break;
          idx[d] = 0;
        }
      }
    }

    FillTarget t{};
    t.ndim = nd;
    t.offset = offset;
    for (int d = 0; d < nd; ++d) {
      t.sizes[d] = c.box[d];
      t.strides[d] = strides[d];
      t.istrides[d] = istrides[d];
    }

    // cpu: fill_cpu with the scalar kernel.
    memset(cpu, kGuard, total);
    t.data = cpu + data_at;
    fastinit::fill_cpu(t, p, scalar, 2, 0, n);
    if (memcmp(cpu, expected, total) != 0) report(c, dtype, dist, "fill_cpu", cpu, expected, total, data_at, t);
    else ++passed;

    // cuda: the host emulation, once per nthreads variant.
    for (int variant = 0; variant < 4; ++variant) {
      memset(cuda, kGuard, total);
      t.data = cuda + data_at;
      emulate(t, p, variant);
      if (memcmp(cuda, expected, total) != 0) {
        const std::string who = "cuda-emulation(variant " + std::to_string(variant) + ")";
        report(c, dtype, dist, who.c_str(), cuda, expected, total, data_at, t);
      } else {
        ++passed;
      }
    }
  }

  // Every dtype and distribution, both parameter sets split over the dtypes.
  void check_all(const Case& c, uint64_t seed) {
    for (int32_t dtype = 0; dtype < 4; ++dtype)
      for (int32_t dist = 0; dist < 3; ++dist) check(c, dtype, dist, dtype + dist, seed);
  }
};

const uint64_t kTwo32 = uint64_t{1} << 32, kTwo62 = uint64_t{1} << 62, kTwo63 = uint64_t{1} << 63;

// Stream positions near the interesting boundaries, minus `back` (wrapping).
std::vector<uint64_t> edge_bases(uint64_t back) {
  return {0, 1, 2, 3, 5, kTwo32 - back, kTwo62 - back, kTwo63 - back, 0 - back, ~uint64_t{0}};
}

void edge_cases(Checker& ck) {
  const uint64_t seed = 0x0123456789abcdefull;
  // Contiguous 1-D (the contig kernel): every length 0..40 and a few longer ones, at
  // stream positions near 0, 2^32, 2^62, 2^63, 2^64 and every misalignment 0..15 (the
  // store width W follows the body's address).
  for (int64_t len : {0, 1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 15, 16, 17, 23, 31, 32, 33, 40, 257, 1001, 4099}) {
    for (uint64_t base : edge_bases(static_cast<uint64_t>(len / 2 + 1))) {
      for (int64_t mis : {0, 1, 2, 4, 6, 8, 12, 13}) {
        Case c = plain_case("contig len " + std::to_string(len), {len});
        c.base = base;
        c.mis = mis;
        for (int32_t dtype = 0; dtype < 4; ++dtype) ck.check(c, dtype, static_cast<int32_t>((len + mis) % 3), static_cast<int>(base & 1), seed);
      }
    }
  }
  // 1-D strided: negative, doubled, odd (misaligned) and padded strides.
  for (int64_t len : {1, 2, 3, 5, 9, 33, 100}) {
    for (uint64_t base : edge_bases(3)) {
      for (int kind = 0; kind < 4; ++kind) {
        Case c = plain_case("1-D strided kind " + std::to_string(kind), {len});
        c.base = base;
        if (kind == 0) c.negative[0] = true;
        if (kind == 1) c.inner_extra = 8;     // stride esz + 8
        if (kind == 2) c.inner_extra = 1;     // odd byte stride
        if (kind == 3) { c.inner_extra = 3; c.negative[0] = true; c.mis = 5; }
        ck.check_all(c, seed);
      }
    }
  }
  // Transposed 2-D and 3-D whole tensors, and a padded one.
  for (uint64_t base : edge_bases(7)) {
    Case t2 = plain_case("transposed 7x13", {7, 13});
    t2.order[0] = 0;
    t2.order[1] = 1;
    t2.base = base;
    ck.check_all(t2, seed);
    Case t3 = plain_case("permuted 3x5x6 (1,0,2)", {3, 5, 6});
    t3.order[0] = 1;
    t3.order[1] = 0;
    t3.order[2] = 2;
    t3.base = base;
    t3.mis = 3;
    ck.check_all(t3, seed);
    Case pd = plain_case("padded rows 6x9", {6, 9});
    pd.pad[0] = 4;  // after each row of 9
    pd.base = base;
    ck.check_all(pd, seed);
    Case ones = plain_case("size-1 dims 1x5x1x3x1", {1, 5, 1, 3, 1});
    ones.base = base;
    ck.check_all(ones, seed);
    Case one = plain_case("single element 1x1x1", {1, 1, 1});
    one.base = base;
    ck.check_all(one, seed);
    Case empty = plain_case("empty 4x0x3", {4, 0, 3});
    empty.base = base;
    ck.check_all(empty, seed);
  }
  // Boxes of a sharded tensor: istrides = the global shape's, offset = base + corner.
  struct B {
    const char* what;
    std::vector<int64_t> global, corner, box;
  };
  const std::vector<B> boxes = {
      {"box rows 4x5 of 6x10", {6, 10}, {1, 3}, {4, 5}},
      {"box inner width 1 (4x1 of 6x10)", {6, 10}, {1, 7}, {4, 1}},
      {"box last column (6x1 of 6x10)", {6, 10}, {0, 9}, {6, 1}},
      {"box one row (1x5 of 6x10)", {6, 10}, {2, 4}, {1, 5}},
      {"box one element (1x1 of 6x10)", {6, 10}, {5, 9}, {1, 1}},
      {"box full rows (3x10 of 6x10)", {6, 10}, {2, 0}, {3, 10}},
      {"box whole (6x10 of 6x10)", {6, 10}, {0, 0}, {6, 10}},
      {"box 2 elements a row (5x2 of 5x3)", {5, 3}, {0, 1}, {5, 2}},
      {"box inner width 1, 3-D (2x3x1 of 4x5x6)", {4, 5, 6}, {1, 2, 3}, {2, 3, 1}},
      {"box middle width 1 (2x1x4 of 4x5x6)", {4, 5, 6}, {1, 4, 1}, {2, 1, 4}},
      {"box full inner plane (2x5x6 of 4x5x6)", {4, 5, 6}, {2, 0, 0}, {2, 5, 6}},
      {"box full inner rows (2x3x6 of 4x5x6)", {4, 5, 6}, {0, 1, 0}, {2, 3, 6}},
      {"box inner width 1, full middle (3x5x1 of 4x5x6)", {4, 5, 6}, {1, 0, 5}, {3, 5, 1}},
      {"box of size-1 dims (1x3x1x4x1 of 2x7x3x9x2)", {2, 7, 3, 9, 2}, {1, 2, 1, 3, 1}, {1, 3, 1, 4, 1}},
      {"box inner width 1 of size-1 dims (2x1x3x1 of 3x1x5x7)", {3, 1, 5, 7}, {1, 0, 1, 6}, {2, 1, 3, 1}},
      {"box long rows (3x1000 of 5x1003)", {5, 1003}, {1, 2}, {3, 1000}},
      {"box empty (0x4 of 6x10)", {6, 10}, {6, 0}, {0, 4}},
  };
  for (const B& b : boxes) {
    for (uint64_t base : edge_bases(5)) {
      for (int layout = 0; layout < 4; ++layout) {
        Case c = box_case(b.what, b.global, b.corner, b.box);
        c.base = base;
        if (layout == 1) {  // transposed memory: dim order reversed
          for (int d = 0; d < c.ndim; ++d) c.order[d] = d;
        } else if (layout == 2) {  // odd inner stride, negative outer dim, misaligned
          c.inner_extra = 1;
          c.negative[0] = true;
          c.mis = 7;
        } else if (layout == 3) {  // padded, negative innermost
          for (int d = 0; d < c.ndim; ++d) c.pad[d] = 16;
          c.negative[c.ndim - 1] = true;
          c.mis = 2;
        }
        c.what += " layout " + std::to_string(layout);
        ck.check_all(c, seed);
      }
    }
  }
  // 16 dims (kMaxDims), some of size 1, whole and a box.
  {
    std::vector<int64_t> g(16, 2), corner(16, 0), box(16, 2);
    g[3] = g[9] = g[15] = 1;
    box[3] = box[9] = box[15] = 1;
    box[14] = 1;
    corner[14] = 1;
    box[0] = 1;
    corner[0] = 1;
    for (uint64_t base : {uint64_t{0}, 0 - uint64_t{3}}) {
      Case w = plain_case("16 dims whole", g);
      w.base = base;
      ck.check_all(w, seed);
      Case b = box_case("16 dims box", g, corner, box);
      b.base = base;
      std::swap(b.order[0], b.order[14]);  // dims 1 and 15 swap places in memory order
      ck.check_all(b, seed);
    }
  }
}

void random_cases(Checker& ck, int count) {
  Rng rng{20240611};
  for (int k = 0; k < count; ++k) {
    Case c;
    c.ndim = static_cast<int>(rng.range(1, 5));
    uint64_t gn = 1;
    for (int d = 0; d < c.ndim; ++d) {
      const int64_t cap = std::max<int64_t>(1, std::min<int64_t>(40, static_cast<int64_t>(20000 / gn)));
      c.global[d] = rng.chance(15) ? 1 : rng.range(1, std::min<int64_t>(cap, rng.chance(20) ? 40 : 9));
      gn *= static_cast<uint64_t>(c.global[d]);
    }
    const bool whole = rng.chance(30);
    for (int d = 0; d < c.ndim; ++d) {
      if (whole) {
        c.corner[d] = 0;
        c.box[d] = c.global[d];
      } else {
        c.corner[d] = rng.range(0, c.global[d] - 1);
        const int64_t room = c.global[d] - c.corner[d];
        c.box[d] = rng.chance(20) ? 1 : rng.chance(20) ? room : rng.range(rng.chance(3) ? 0 : 1, room);
      }
    }
    for (int d = 0; d < c.ndim; ++d) c.order[d] = c.ndim - 1 - d;
    if (rng.chance(50))
      for (int d = c.ndim - 1; d > 0; --d) std::swap(c.order[d], c.order[rng.below(static_cast<uint64_t>(d) + 1)]);
    static const int64_t extras[] = {0, 0, 0, 1, 2, 3, 8};
    c.inner_extra = extras[rng.below(7)];
    for (int d = 0; d < c.ndim; ++d) {
      c.pad[d] = rng.chance(25) ? rng.range(1, 9) : 0;
      c.negative[d] = rng.chance(20);
    }
    c.mis = rng.chance(50) ? 0 : rng.range(1, 15);
    const uint64_t back = rng.below(2 * gn + 8);
    switch (rng.below(7)) {
      case 0: c.base = rng.below(16); break;
      case 1: c.base = kTwo32 - back; break;
      case 2: c.base = kTwo62 - back; break;
      case 3: c.base = kTwo63 - back; break;
      case 4: c.base = 0 - back; break;
      default: c.base = rng.next(); break;
    }
    c.what = "random " + std::to_string(k);
    ck.check_all(c, rng.next());
  }
}

}  // namespace

// FastDiv (the strided kernel's divisions) against the division operator: every divisor
// 1..2^12 and near powers of two up to 2^64 - 1, with dividends at 0, near multiples of
// d, near powers of two and 2^64 - 1, plus fixed-seed random pairs.
void fastdiv_cases(Checker& ck) {
  std::vector<uint64_t> divisors, dividends;
  for (uint64_t d = 1; d <= 4096; ++d) divisors.push_back(d);
  for (int b = 12; b < 64; ++b)
    for (int64_t k = -3; k <= 3; ++k) divisors.push_back((uint64_t{1} << b) + static_cast<uint64_t>(k));
  divisors.push_back(~uint64_t{0});
  divisors.push_back(~uint64_t{0} - 1);
  for (int b = 0; b < 64; ++b)
    for (int64_t k = -2; k <= 2; ++k) dividends.push_back((uint64_t{1} << b) + static_cast<uint64_t>(k));
  dividends.push_back(0);
  dividends.push_back(~uint64_t{0});
  uint64_t x = 0x9E3779B97F4A7C15ull;
  auto next = [&x] {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    return x;
  };
  long bad = 0, n = 0;
  auto one = [&](uint64_t a, uint64_t d) {
    uint64_t q, r;
    fastinit::cudafill::divmod(a, fastinit::cudafill::FastDiv::make(d), q, r);
    ++n;
    if (q != a / d || r != a % d) {
      if (++bad <= 5) std::printf("FastDiv: %llu / %llu gave %llu rem %llu\n", (unsigned long long)a,
                                  (unsigned long long)d, (unsigned long long)q, (unsigned long long)r);
    }
  };
  for (uint64_t d : divisors) {
    for (uint64_t a : dividends) one(a, d);
    for (uint64_t k : {uint64_t{1}, uint64_t{2}, uint64_t{1000}, ~uint64_t{0} / d})
      for (int64_t e = -1; e <= 1; ++e) one(k * d + static_cast<uint64_t>(e), d);
  }
  for (int i = 0; i < 2000000; ++i) {
    const uint64_t d = next() >> (next() % 64);
    one(next() >> (next() % 64), d == 0 ? 1 : d);
  }
  if (bad == 0) ++ck.passed;
  else ck.failed += bad;
  std::printf("FastDiv: %ld divisions, %ld wrong\n", n, bad);
}

int main(int argc, char** argv) {
  const int count = argc > 1 ? std::atoi(argv[1]) : 1500;
  Checker ck;
  fastdiv_cases(ck);
  edge_cases(ck);
  random_cases(ck, count);
  std::printf("host-emulated launches: %ld contiguous (store width 16/8/4/2/1: %ld/%ld/%ld/%ld/%ld), %ld strided\n",
              ck.emulated_contig, ck.width_count[16], ck.width_count[8], ck.width_count[4], ck.width_count[2],
              ck.width_count[1], ck.emulated_strided);
  std::printf("strided targets (real grid): %ld one run, %ld runs of 1 element, %ld several longer runs; "
              "%ld needed more than one grid-stride pass\n",
              ck.strided_one_row, ck.strided_unit_runs, ck.strided_many_runs, ck.strided_looped);
  std::printf("%ld passed, %ld failed\n", ck.passed, ck.failed);
  return ck.failed == 0 ? 0 : 1;
}
