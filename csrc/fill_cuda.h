// The CUDA fill's host-side entry points. Implemented in fill_cuda.cu when the build has
// CUDA (FASTINIT_WITH_CUDA); the binding reports CUDA as not compiled otherwise.
#ifndef FASTINIT_FILL_CUDA_H_
#define FASTINIT_FILL_CUDA_H_

#include <cstdint>
#include <string>

#include "fill.h"

namespace fastinit {

// True if a CUDA driver and at least one device are usable; otherwise false, with the
// reason in *why. Never throws, never aborts.
bool cuda_available(std::string* why);

// Fills a strided device target (byte strides) on `device`, enqueued on `stream` (a
// cudaStream_t as an integer; 0 is the legacy default stream). Asynchronous; restores
// the caller's current device. Throws std::runtime_error naming the CUDA error.
void fill_cuda(const FillTarget& t, const FillParams& p, int device, uintptr_t stream);

}  // namespace fastinit

#endif  // FASTINIT_FILL_CUDA_H_
