// csrc/value.h's CUDA conversions (f32_to_f16_bits_cvt, f32_to_bf16_bits_cvt: the
// cvt.rn instructions through cuda_fp16.h / cuda_bf16.h) against fastinit's own integer
// roundings (f32_to_f16_bits, f32_to_bf16_bits), on every one of the 2^32 float bit
// patterns. Compiled with nvcc as a host program, so the conversions run the headers'
// host implementations (the software model of the device instruction). Split over all
// hardware threads. Prints the first mismatches and "N passed, M failed"; exit 1 if any failed.
// Usage: cvt_check [threads]
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "value.h"

int main(int argc, char** argv) {
  using namespace fastinit;
  unsigned threads = argc > 1 ? static_cast<unsigned>(std::atoi(argv[1])) : std::thread::hardware_concurrency();
  if (threads == 0) threads = 1;
  std::atomic<uint64_t> bad{0}, nan_inputs{0}, subnormal_f16{0};
  std::atomic<int> printed{0};
  auto work = [&](unsigned t) {
    uint64_t b = 0, nans = 0, sub = 0;
    const uint64_t lo = (uint64_t{1} << 32) * t / threads, hi = (uint64_t{1} << 32) * (t + 1) / threads;
    for (uint64_t i = lo; i < hi; ++i) {
      const float f = bits_to_f32(static_cast<uint32_t>(i));
      const uint16_t h = f32_to_f16_bits(f), hc = f32_to_f16_bits_cvt(f);
      const uint16_t g = f32_to_bf16_bits(f), gc = f32_to_bf16_bits_cvt(f);
      if (f != f) ++nans;
      if ((h & 0x7c00u) == 0 && (h & 0x3ffu) != 0) ++sub;
      if (h != hc || g != gc) {
        ++b;
        if (printed.fetch_add(1) < 10)
          std::printf("mismatch at 0x%08x: f16 %04x vs cvt %04x, bf16 %04x vs cvt %04x\n", static_cast<unsigned>(i), h,
                      hc, g, gc);
      }
    }
    bad += b;
    nan_inputs += nans;
    subnormal_f16 += sub;
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) pool.emplace_back(work, t);
  for (auto& th : pool) th.join();
  std::printf("2^32 inputs (%llu NaN, %llu with a subnormal float16 result) on %u threads: %llu mismatches\n",
              static_cast<unsigned long long>(nan_inputs.load()), static_cast<unsigned long long>(subnormal_f16.load()),
              threads, static_cast<unsigned long long>(bad.load()));
  std::printf("%llu passed, %llu failed\n", static_cast<unsigned long long>((uint64_t{1} << 32) - bad.load()),
              static_cast<unsigned long long>(bad.load()));
  return bad.load() == 0 ? 0 : 1;
}
