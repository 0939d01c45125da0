// What the native checks (avx512_emulated_check.cpp, cuda_host_check.cu) share: guard
// bytes around every destination and dtype names for failure lines.
#ifndef FASTINIT_TESTS_CHECK_COMMON_H_
#define FASTINIT_TESTS_CHECK_COMMON_H_

#include <cstddef>
#include <cstdint>

#include "fill.h"

namespace fastinit_check {

constexpr unsigned char kGuard = 0xA5;
constexpr size_t kGuardBytes = 64;

static inline const char* dtype_name(int32_t d) {
  switch (d) {
    case fastinit::kFloat32: return "float32";
    case fastinit::kFloat64: return "float64";
    case fastinit::kFloat16: return "float16";
    default: return "bfloat16";
  }
}

}  // namespace fastinit_check

#endif  // FASTINIT_TESTS_CHECK_COMMON_H_
