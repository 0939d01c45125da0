// The CUDA fill (docs/STREAM.md on the GPU). Every value comes from
// philox_block and value_f32_dist / value_f64_dist (value.h, normal.h) and the storage
// roundings in value.h, the same inline code the CPU paths compile (with correctly
// rounded division and sqrt, explicit fma, no contraction), so a CUDA fill is
// bit-identical to a CPU fill of the same target. The distribution (uniform, normal,
// truncated normal) is a template parameter like the dtype.
//
// Two kernels:
//   contiguous (1-D after coalesce, unit stride): one thread per 16 output bytes, i.e.
//     one Philox block for float32 / float64, two for float16 / bfloat16. The body starts
//     at the first element whose stream index opens a block; the up-to-3 elements before
//     it and the up-to-7 after the last whole chunk are written one by one. All chunk
//     addresses share one residue mod 16, so the store width (16, 8, 4, 2 or 1 bytes) is
//     a template parameter chosen once on the host.
//   strided: the target is cut into runs of consecutive stream indices (a whole tensor is
//     one run; a box of a sharded tensor has one per row, fill.h) and each thread takes
//     one Philox block of one run; it finds the multi-index of its first element once
//     (divisions by multiply-high with constants computed on the host) and steps it for
//     the rest.
// Both are grid-stride loops over 64-bit work indices; a thread's values depend only on
// the work index, never on the grid shape.
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

#include "fill.h"
#include "fill_cuda.h"
#include "normal.h"
#include "philox.h"
#include "value.h"

namespace fastinit {
namespace cudafill {

constexpr int kThreads = 256;

// 16 output bytes in memory order (little-endian words).
struct Chunk {
  uint32_t w[4];
};

FASTINIT_HD uint32_t pick(const Philox4& r, uint32_t k) {
  // Selects instead of r.v[k]: a dynamic index would put r in local memory on the GPU.
  return k == 0 ? r.v[0] : k == 1 ? r.v[1] : k == 2 ? r.v[2] : r.v[3];
}

FASTINIT_HD uint64_t f64_to_bits(double d) {
  uint64_t b;
  memcpy(&b, &d, 8);
  return b;
}

template <int D>
FASTINIT_HD uint32_t f32_family_bits(float v) {
  if (D == kFloat32) return f32_to_bits(v);
  if (D == kFloat16) return f32_to_f16_bits_cvt(v);
  return f32_to_bf16_bits_cvt(v);
}

// Storage bits (low dtype_size bytes) of the element at position `pos` (in elements) of
// Philox block r.
template <int D, int Dist>
FASTINIT_HD uint64_t element_bits(const FillParams& p, const Philox4& r, uint32_t pos) {
  if (D == kFloat64) return f64_to_bits(value_f64_dist<Dist>(pick(r, 2 * pos), pick(r, 2 * pos + 1), p));
  return f32_family_bits<D>(value_f32_dist<Dist>(pick(r, pos), p));
}

// Stream words per element, elements per Philox block.
template <int D>
struct Layout {
  static constexpr uint64_t kWords = D == kFloat64 ? 2 : 1;
  static constexpr uint64_t kPerBlock = 4 / kWords;
  static constexpr uint64_t kSize = static_cast<uint64_t>(dtype_size(D));
  static constexpr uint64_t kBlocksPerChunk = 16 / (kPerBlock * kSize);
  static constexpr uint64_t kPerChunk = kPerBlock * kBlocksPerChunk;
};

// The element with stream index e (docs/STREAM.md section 2: word e, or words 2e and 2e + 1, all
// modulo 2^64; the block is the word index >> 2).
template <int D, int Dist>
FASTINIT_HD uint64_t element_bits_at(const FillParams& p, uint64_t e) {
  const uint64_t word = e * Layout<D>::kWords;
  const Philox4 r = philox_block(p.seed, word >> 2);
  return element_bits<D, Dist>(p, r, static_cast<uint32_t>(word & 3) / static_cast<uint32_t>(Layout<D>::kWords));
}

template <int D>
FASTINIT_HD void store_element(char* dst, uint64_t bits, bool aligned) {
  if (aligned) {
    if (D == kFloat64) *reinterpret_cast<uint64_t*>(dst) = bits;
    else if (D == kFloat32) *reinterpret_cast<uint32_t*>(dst) = static_cast<uint32_t>(bits);
    else *reinterpret_cast<uint16_t*>(dst) = static_cast<uint16_t>(bits);
  } else {
    for (uint64_t k = 0; k < Layout<D>::kSize; ++k) dst[k] = static_cast<char>(bits >> (8 * k));
  }
}

// Chunk starting at Philox block `block` (already reduced modulo 2^62).
template <int D, int Dist>
FASTINIT_HD Chunk chunk_bits(const FillParams& p, uint64_t block) {
  Chunk c;
  if (D == kFloat64) {
    const Philox4 r = philox_block(p.seed, block);
    for (uint32_t k = 0; k < 2; ++k) {
      const uint64_t b = element_bits<D, Dist>(p, r, k);
      c.w[2 * k] = static_cast<uint32_t>(b);
      c.w[2 * k + 1] = static_cast<uint32_t>(b >> 32);
    }
  } else if (D == kFloat32) {
    const Philox4 r = philox_block(p.seed, block);
    for (uint32_t k = 0; k < 4; ++k) c.w[k] = static_cast<uint32_t>(element_bits<D, Dist>(p, r, k));
  } else {
    for (uint32_t g = 0; g < 2; ++g) {
      const Philox4 r = philox_block(p.seed, (block + g) & kBlockMask);
      for (uint32_t k = 0; k < 2; ++k) {
        const uint32_t lo = static_cast<uint32_t>(element_bits<D, Dist>(p, r, 2 * k));
        const uint32_t hi = static_cast<uint32_t>(element_bits<D, Dist>(p, r, 2 * k + 1));
        c.w[2 * g + k] = lo | (hi << 16);
      }
    }
  }
  return c;
}

// W: the largest power of two <= 16 that every chunk address is a multiple of.
template <int W>
FASTINIT_HD void store_chunk(char* dst, const Chunk& c) {
  if constexpr (W == 16) {
    *reinterpret_cast<uint4*>(dst) = make_uint4(c.w[0], c.w[1], c.w[2], c.w[3]);
  } else if constexpr (W == 8) {
    reinterpret_cast<uint2*>(dst)[0] = make_uint2(c.w[0], c.w[1]);
    reinterpret_cast<uint2*>(dst)[1] = make_uint2(c.w[2], c.w[3]);
  } else if constexpr (W == 4) {
    for (int k = 0; k < 4; ++k) reinterpret_cast<uint32_t*>(dst)[k] = c.w[k];
  } else if constexpr (W == 2) {
    for (int k = 0; k < 8; ++k) reinterpret_cast<uint16_t*>(dst)[k] = static_cast<uint16_t>(c.w[k / 2] >> (16 * (k % 2)));
  } else {
    for (int k = 0; k < 16; ++k) dst[k] = static_cast<char>(c.w[k / 4] >> (8 * (k % 4)));
  }
}

struct ContigArgs {
  FillParams p;
  char* data;        // element 0
  uint64_t e0;       // stream index of element 0
  uint64_t head;     // elements [0, head) precede the first whole chunk
  uint64_t chunks;   // whole chunks starting at element `head`
  uint64_t block0;   // Philox block of element `head`
  uint64_t tail;     // elements [head + chunks * kPerChunk, +tail) follow them
};

template <int D, int Dist, int W>
FASTINIT_HD void contig_work(const ContigArgs& a, uint64_t tid, uint64_t nthreads) {
  using L = Layout<D>;
  char* body = a.data + a.head * L::kSize;
  for (uint64_t c = tid; c < a.chunks; c += nthreads)
    store_chunk<W>(body + 16 * c, chunk_bits<D, Dist>(a.p, (a.block0 + c * L::kBlocksPerChunk) & kBlockMask));
  // At most 3 + 7 edge elements, one per thread (grid-stride like the body, so any grid
  // covers them).
  for (uint64_t k = tid; k < a.head + a.tail; k += nthreads) {
    const uint64_t i = k < a.head ? k : a.head + a.chunks * L::kPerChunk + (k - a.head);
    store_element<D>(a.data + i * L::kSize, element_bits_at<D, Dist>(a.p, a.e0 + i), false);
  }
}

// Division by a divisor fixed at launch, without a divide instruction (64-bit division
// is a long software sequence on the GPU): Granlund and Montgomery, "Division by
// invariant integers using multiplication" (PLDI 1994), figure 4.1, as in libdivide's
// branchfree u64: with l = ceil(log2 d) and m = floor(2^64 (2^l - d) / d) + 1,
// t = mulhi(m, n), q = (t + ((n - t) >> 1)) >> (l - 1), exact for every 64-bit n.
// d = 1 (l = 0) takes q = n. The host computes m once per launch (FastDiv::make).
struct FastDiv {
  uint64_t d;
  uint64_t m;
  uint32_t shift;  // l - 1; unused when d == 1
  static FastDiv make(uint64_t d) {
    FastDiv f{d, 0, 0};
    if (d > 1) {
      uint32_t l = 0;
      while (l < 64 && (uint64_t{1} << l) < d) ++l;  // ceil(log2 d), 1..64
      const unsigned __int128 two_l = static_cast<unsigned __int128>(1) << l;
      f.m = static_cast<uint64_t>(((two_l - d) << 64) / d + 1);
      f.shift = l - 1;
    }
    return f;
  }
};

FASTINIT_HD uint64_t mulhi64(uint64_t a, uint64_t b) {
#if defined(__CUDA_ARCH__)
  return __umul64hi(a, b);
#else
  return static_cast<uint64_t>((static_cast<unsigned __int128>(a) * b) >> 64);
#endif
}

FASTINIT_HD void divmod(uint64_t n, const FastDiv& f, uint64_t& q, uint64_t& r) {
  if (f.d == 1) {
    q = n;
  } else {
    const uint64_t t = mulhi64(f.m, n);
    q = (t + ((n - t) >> 1)) >> f.shift;
  }
  r = n - q * f.d;
}

struct StridedArgs {
  FillParams p;
  char* data;
  uint64_t offset;   // stream index of element 0
  uint64_t run;      // positions [k * run, (k + 1) * run) have consecutive stream indices
  uint64_t rows;     // n / run
  uint64_t gpr;      // work items (Philox blocks) per row: enough for any alignment
  int32_t ndim;
  int32_t nouter;    // dims [0, nouter) index the rows; the rest lie inside a run
  bool aligned;      // data and every stride are multiples of the element size
  int64_t sizes[kMaxDims];
  int64_t strides[kMaxDims];
  int64_t istrides[kMaxDims];
  FastDiv gpr_div, inner_div;   // divisions by gpr and by sizes[ndim - 1]
  FastDiv size_div[kMaxDims];   // by sizes[d]
};

template <int D, int Dist>
FASTINIT_HD void strided_work(const StridedArgs& a, uint64_t tid, uint64_t nthreads) {
  using L = Layout<D>;
  const int nd = a.ndim;
  const uint64_t inner = static_cast<uint64_t>(a.sizes[nd - 1]);
  const int64_t mstride = a.strides[nd - 1];
  const uint64_t work = a.rows * a.gpr;
  for (uint64_t w = tid; w < work; w += nthreads) {
    uint64_t r, g;
    divmod(w, a.gpr_div, r, g);
    // Stream index of the row's first element, from the row's multi-index.
    uint64_t e_row = a.offset, rest = r;
    for (int d = a.nouter - 1; d >= 0 && rest != 0; --d) {
      uint64_t q, m;
      divmod(rest, a.size_div[d], q, m);
      e_row += m * static_cast<uint64_t>(a.istrides[d]);
      rest = q;
    }
    // Row positions [i, end) lie in the row's g-th Philox block, at block positions pos...
    const uint64_t h0 = e_row % L::kPerBlock;
    const uint64_t first = g * L::kPerBlock;
    if (first >= h0 + a.run) continue;
    uint64_t i = first > h0 ? first - h0 : 0;
    uint64_t end = first + L::kPerBlock - h0;
    if (end > a.run) end = a.run;
    uint32_t pos = static_cast<uint32_t>(i + h0 - first);
    const uint64_t block = (((e_row - h0) * L::kWords) >> 2) + g;
    const Philox4 ph = philox_block(a.p.seed, block & kBlockMask);

    // Multi-index of the target position r * run + i: the innermost coordinate in `col`,
    // the address of its memory row in `row`.
    int64_t idx[kMaxDims];
    uint64_t col;
    divmod(r * a.run + i, a.inner_div, rest, col);
    char* row = a.data;
    for (int d = nd - 2; d >= 0; --d) {
      uint64_t q, m;
      divmod(rest, a.size_div[d], q, m);
      idx[d] = static_cast<int64_t>(m);
      row += static_cast<int64_t>(m) * a.strides[d];
      rest = q;
    }
    for (; i < end; ++i, ++pos) {
      store_element<D>(row + static_cast<int64_t>(col) * mstride, element_bits<D, Dist>(a.p, ph, pos), a.aligned);
      if (++col == inner && i + 1 < end) {
        col = 0;
        for (int d = nd - 2; d >= 0; --d) {
          row += a.strides[d];
          if (++idx[d] < a.sizes[d]) break;
          row -= idx[d] * a.strides[d];
          idx[d] = 0;
        }
      }
    }
  }
}

FASTINIT_HD uint64_t global_tid() {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
#else
  return 0;
#endif
}
FASTINIT_HD uint64_t global_threads() {
#if defined(__CUDA_ARCH__)
  return static_cast<uint64_t>(gridDim.x) * blockDim.x;
#else
  return 1;
#endif
}

template <int D, int Dist, int W>
__global__ void __launch_bounds__(kThreads) contig_kernel(const ContigArgs a) {
  contig_work<D, Dist, W>(a, global_tid(), global_threads());
}

template <int D, int Dist>
__global__ void __launch_bounds__(kThreads) strided_kernel(const StridedArgs a) {
  strided_work<D, Dist>(a, global_tid(), global_threads());
}

[[noreturn]] void throw_cuda(cudaError_t err) {
  throw std::runtime_error(std::string("fastinit CUDA error: ") + cudaGetErrorName(err) + ": " +
                           cudaGetErrorString(err));
}

void check(cudaError_t err) {
  if (err != cudaSuccess) throw_cuda(err);
}

// Makes `device` current for the launch and puts the caller's device back afterwards,
// also when the launch throws.
class DeviceGuard {
 public:
  explicit DeviceGuard(int device) {
    check(cudaGetDevice(&prev_));
    if (prev_ != device) {
      check(cudaSetDevice(device));
      switched_ = true;
    }
  }
  ~DeviceGuard() {
    if (switched_) (void)cudaSetDevice(prev_);
  }
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;

 private:
  int prev_ = 0;
  bool switched_ = false;
};

// Blocks for `work` items, at most `resident` (the blocks the whole GPU holds at once):
// one full wave, the grid-stride loops do the rest, so no partial last wave.
unsigned grid_for(uint64_t work, uint64_t resident) {
  const uint64_t need = (work + kThreads - 1) / kThreads;
  return static_cast<unsigned>(std::max<uint64_t>(1, std::min(need, std::max<uint64_t>(resident, 1))));
}

// Blocks of kThreads that one SM of `device` holds for `kernel`, from the occupancy API
// (its registers decide it: 37-48 per thread allow 5-6 blocks, not the 8 that 2048
// threads per SM would), times the SM count; cached per kernel and device.
constexpr int kMaxDevices = 64;
template <class Kernel>
uint64_t resident_blocks(Kernel kernel, int device, int sms, std::atomic<uint32_t>* cache) {
  uint32_t per_sm = device >= 0 && device < kMaxDevices ? cache[device].load(std::memory_order_relaxed) : 0;
  if (per_sm == 0) {
    int n = 0;
    check(cudaOccupancyMaxActiveBlocksPerMultiprocessor(&n, kernel, kThreads, 0));
    per_sm = static_cast<uint32_t>(std::max(n, 1));
    if (device >= 0 && device < kMaxDevices) cache[device].store(per_sm, std::memory_order_relaxed);
  }
  return static_cast<uint64_t>(per_sm) * static_cast<uint64_t>(sms > 0 ? sms : 1);
}
template <int D, int Dist, int W>
std::atomic<uint32_t> g_contig_blocks[kMaxDevices];
template <int D, int Dist>
std::atomic<uint32_t> g_strided_blocks[kMaxDevices];

template <int D, int Dist, int W>
void launch_contig_w(const ContigArgs& a, uint64_t work, int device, int sms, cudaStream_t s) {
  const unsigned grid = grid_for(work, resident_blocks(contig_kernel<D, Dist, W>, device, sms, g_contig_blocks<D, Dist, W>));
  contig_kernel<D, Dist, W><<<grid, kThreads, 0, s>>>(a);
}

template <int D, int Dist>
void launch_contig(const ContigArgs& a, int width, uint64_t work, int device, int sms, cudaStream_t s) {
  switch (width) {
    case 16: return launch_contig_w<D, Dist, 16>(a, work, device, sms, s);
    case 8: return launch_contig_w<D, Dist, 8>(a, work, device, sms, s);
    case 4: return launch_contig_w<D, Dist, 4>(a, work, device, sms, s);
    case 2: return launch_contig_w<D, Dist, 2>(a, work, device, sms, s);
    default: return launch_contig_w<D, Dist, 1>(a, work, device, sms, s);
  }
}

// Host-side split of a coalesced target; also what a host-only self-check can drive
// through contig_work / strided_work.
template <int D>
bool plan_contig(const FillTarget& t, const FillParams& p, ContigArgs& a, int& width) {
  using L = Layout<D>;
  uint64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= static_cast<uint64_t>(t.sizes[d]);
  if (!(t.ndim == 1 && ((t.strides[0] == static_cast<int64_t>(L::kSize) && t.istrides[0] == 1) || n == 1)))
    return false;
  a = ContigArgs{};
  a.p = p;
  a.data = static_cast<char*>(t.data);
  a.e0 = t.offset;
  a.head = std::min<uint64_t>(n, (L::kPerBlock - t.offset % L::kPerBlock) % L::kPerBlock);
  a.chunks = (n - a.head) / L::kPerChunk;
  a.block0 = ((t.offset + a.head) * L::kWords) >> 2;
  a.tail = n - a.head - a.chunks * L::kPerChunk;
  const uintptr_t body = reinterpret_cast<uintptr_t>(a.data) + a.head * L::kSize;
  width = 16;
  while (width > 1 && body % static_cast<uintptr_t>(width) != 0) width /= 2;
  return true;
}

template <int D>
StridedArgs plan_strided(const FillTarget& t, const FillParams& p) {
  using L = Layout<D>;
  StridedArgs a{};
  a.p = p;
  a.data = static_cast<char*>(t.data);
  a.offset = t.offset;
  uint64_t n = 1;
  for (int d = 0; d < t.ndim; ++d) n *= static_cast<uint64_t>(t.sizes[d]);
  a.run = std::min(stream_run(t), n);
  a.rows = n / a.run;
  // One row: its blocks exactly; several: the most blocks a row of `run` can touch.
  a.gpr = a.rows == 1 ? (t.offset % L::kPerBlock + n + L::kPerBlock - 1) / L::kPerBlock
                      : (a.run + 2 * L::kPerBlock - 2) / L::kPerBlock;
  a.ndim = t.ndim;
  a.nouter = t.ndim;
  for (uint64_t inside = 1; a.nouter > 0 && inside < a.run; --a.nouter)
    inside *= static_cast<uint64_t>(t.sizes[a.nouter - 1]);
  a.aligned = reinterpret_cast<uintptr_t>(t.data) % L::kSize == 0;
  for (int d = 0; d < t.ndim; ++d) {
    a.sizes[d] = t.sizes[d];
    a.strides[d] = t.strides[d];
    a.istrides[d] = t.istrides[d];
    a.size_div[d] = FastDiv::make(static_cast<uint64_t>(t.sizes[d]));
    if (t.strides[d] % static_cast<int64_t>(L::kSize) != 0) a.aligned = false;
  }
  a.gpr_div = FastDiv::make(a.gpr);
  a.inner_div = FastDiv::make(static_cast<uint64_t>(t.sizes[t.ndim - 1]));
  return a;
}

template <int D, int Dist>
void fill_typed(const FillTarget& t, const FillParams& p, int device, int sms, cudaStream_t s) {
  ContigArgs c;
  int width = 16;
  if (plan_contig<D>(t, p, c, width)) {
    launch_contig<D, Dist>(c, width, std::max(c.chunks, c.head + c.tail), device, sms, s);
    return;
  }
  const StridedArgs a = plan_strided<D>(t, p);
  const unsigned grid =
      grid_for(a.rows * a.gpr, resident_blocks(strided_kernel<D, Dist>, device, sms, g_strided_blocks<D, Dist>));
  strided_kernel<D, Dist><<<grid, kThreads, 0, s>>>(a);
}

template <int D>
void fill_dist(const FillTarget& t, const FillParams& p, int device, int sms, cudaStream_t s) {
  switch (p.dist) {
    case kNormal: return fill_typed<D, kNormal>(t, p, device, sms, s);
    case kTruncNormal: return fill_typed<D, kTruncNormal>(t, p, device, sms, s);
    default: return fill_typed<D, kUniform>(t, p, device, sms, s);
  }
}

}  // namespace cudafill

bool cuda_available(std::string* why) {
  try {
    // With no driver installed at all, the runtime reports driver version 0 (CUDA runtime
    // API, cudaDriverGetVersion), where cudaGetDeviceCount would only say the driver is
    // "insufficient".
    int driver = 0;
    if (cudaDriverGetVersion(&driver) != cudaSuccess || driver == 0) {
      (void)cudaGetLastError();
      if (why) *why = "no CUDA driver found (libcuda.so.1 is not installed or not on the library path)";
      return false;
    }
    int count = 0;
    const cudaError_t err = cudaGetDeviceCount(&count);
    if (err != cudaSuccess) {
      (void)cudaGetLastError();  // leave no error behind for the next runtime call
      if (why) *why = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
      return false;
    }
    if (count <= 0) {
      if (why) *why = "no CUDA device is visible";
      return false;
    }
    if (why) why->clear();
    return true;
  } catch (...) {
    if (why) *why = "CUDA runtime query failed";
    return false;
  }
}

void fill_cuda(const FillTarget& target, const FillParams& p, int device, uintptr_t stream) {
  FillTarget t = target;
  if (!coalesce(t)) return;  // no element: nothing to launch
  cudafill::DeviceGuard guard(device);
  // Clears an error a previous call of this runtime may have left; a sticky (context)
  // error would come back from every call below anyway.
  (void)cudaGetLastError();
  int sms = 0;
  cudafill::check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device));
  const cudaStream_t s = reinterpret_cast<cudaStream_t>(stream);
  switch (p.dtype) {
    case kFloat32: cudafill::fill_dist<kFloat32>(t, p, device, sms, s); break;
    case kFloat64: cudafill::fill_dist<kFloat64>(t, p, device, sms, s); break;
    case kFloat16: cudafill::fill_dist<kFloat16>(t, p, device, sms, s); break;
    case kBFloat16: cudafill::fill_dist<kBFloat16>(t, p, device, sms, s); break;
    default: throw std::invalid_argument("unknown dtype code");
  }
  cudafill::check(cudaGetLastError());
}

}  // namespace fastinit
