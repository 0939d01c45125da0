// Run-time ISA choice, made once: cpuid for the instruction sets and XCR0 for the OS
// saving their registers (Intel SDM vol. 1, 13.2 and 15.2; as simdjson and PyTorch's
// cpuinfo do). FASTINIT_CPU_ISA=scalar|avx2|avx512 overrides it.
#include <atomic>
#include <cstdlib>
#include <stdexcept>

#include "kernels.h"

#if defined(__x86_64__) || defined(_M_X64) || defined(__i386__)
#include <cpuid.h>
#define FASTINIT_X86 1
#endif

namespace fastinit {
namespace {

std::atomic<uint64_t> g_calls[kIsaCount];

#if defined(FASTINIT_X86)
uint64_t xgetbv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

struct CpuFeatures {
  bool avx2 = false, avx512 = false;
  CpuFeatures() {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return;
    const bool osxsave = c & (1u << 27), avx = c & (1u << 28), fma = c & (1u << 12), f16c = c & (1u << 29);
    if (!osxsave || !avx) return;
    const uint64_t xcr0 = xgetbv0();
    const bool ymm_state = (xcr0 & 0x6) == 0x6;     // SSE and AVX state
    const bool zmm_state = (xcr0 & 0xe6) == 0xe6;   // plus opmask, ZMM_Hi256, Hi16_ZMM
    if (__get_cpuid_max(0, nullptr) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    avx2 = ymm_state && fma && f16c && (b & (1u << 5));
    const bool f = b & (1u << 16), dq = b & (1u << 17), bw = b & (1u << 30), vl = b & (1u << 31);
    avx512 = avx2 && zmm_state && f && dq && bw && vl;
  }
};
const CpuFeatures& cpu() {
  static const CpuFeatures f;
  return f;
}
#endif

struct Choice {
  int isa = kIsaScalar;
  std::string error;
  Choice() {
    for (int i = kIsaCount - 1; i >= 0; --i) {
      if (isa_supported(i)) {
        isa = i;
        break;
      }
    }
    const char* env = std::getenv("FASTINIT_CPU_ISA");
    if (env == nullptr || *env == '\0') return;
    const int forced = isa_from_name(env);
    if (forced < 0) {
      error = std::string("FASTINIT_CPU_ISA='") + env + "' is not one of scalar, avx2, avx512";
    } else if (!isa_supported(forced)) {
      error = std::string("FASTINIT_CPU_ISA=") + env + " is not supported by this CPU or build";
    } else {
      isa = forced;
    }
  }
};
const Choice& choice() {
  static const Choice c;
  return c;
}

}  // namespace

const char* isa_name(int isa) {
  static const char* const names[kIsaCount] = {"scalar", "avx2", "avx512"};
  return isa >= 0 && isa < kIsaCount ? names[isa] : "unknown";
}

int isa_from_name(const std::string& name) {
  for (int i = 0; i < kIsaCount; ++i)
    if (name == isa_name(i)) return i;
  return -1;
}

bool isa_supported(int isa) {
  switch (isa) {
    case kIsaScalar:
      return true;
#if defined(FASTINIT_X86)
#if defined(FASTINIT_HAVE_AVX2)
    case kIsaAvx2:
      return cpu().avx2;
#endif
#if defined(FASTINIT_HAVE_AVX512)
    case kIsaAvx512:
      return cpu().avx512;
#endif
#endif
    default:
      return false;
  }
}

RunKernel isa_kernel(int isa) {
  switch (isa) {
#if defined(FASTINIT_HAVE_AVX2)
    case kIsaAvx2:
      return &avx2::fill_run;
#endif
#if defined(FASTINIT_HAVE_AVX512)
    case kIsaAvx512:
      return &avx512::fill_run;
#endif
    default:
      return &scalar::fill_run;
  }
}

int active_isa() {
  const Choice& c = choice();
  if (!c.error.empty()) throw std::runtime_error(c.error);
  return c.isa;
}

void count_kernel_call(int isa) { g_calls[isa].fetch_add(1, std::memory_order_relaxed); }

std::vector<uint64_t> kernel_calls() {
  std::vector<uint64_t> out;
  for (auto& c : g_calls) out.push_back(c.load(std::memory_order_relaxed));
  return out;
}

}  // namespace fastinit
