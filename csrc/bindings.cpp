// Thin pybind11 layer: argument unpacking, GIL release, errors as Python exceptions.
// All validation of user input happens in python/fastinit.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "fill_cpu.h"
#include "fill_cuda.h"
#include "kernels.h"
#include "normal.h"
#include "philox.h"
#include "threadpool.h"

// Why CMake did (not) build the CUDA kernel (FASTINIT_CUDA=AUTO|ON|OFF and what it found),
// for info()'s cuda_unavailable_reason; a build outside CMake says only OFF.
#ifndef FASTINIT_CUDA_BUILD_REASON
#define FASTINIT_CUDA_BUILD_REASON "FASTINIT_CUDA=OFF"
#endif

namespace py = pybind11;
using namespace fastinit;

namespace {

// istrides empty: the row-major strides of sizes (a whole tensor); otherwise the stream
// index strides of a box of a larger tensor (fill.h).
FillTarget make_target(uintptr_t ptr, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                       uint64_t offset, const std::vector<int64_t>& istrides) {
  if (sizes.size() != strides.size()) throw std::invalid_argument("sizes and strides differ in length");
  if (!istrides.empty() && istrides.size() != sizes.size())
    throw std::invalid_argument("sizes and index strides differ in length");
  if (sizes.size() > static_cast<size_t>(kMaxDims))
    throw std::invalid_argument("fastinit supports at most " + std::to_string(kMaxDims) + " dimensions");
  FillTarget t{};
  t.data = reinterpret_cast<void*>(ptr);
  t.ndim = static_cast<int32_t>(sizes.size());
  for (size_t d = 0; d < sizes.size(); ++d) {
    if (sizes[d] < 0) throw std::invalid_argument("negative size");
    t.sizes[d] = sizes[d];
    t.strides[d] = strides[d];
  }
  int64_t acc = 1;
  for (size_t d = sizes.size(); d-- > 0;) {
    if (!istrides.empty() && istrides[d] < 0) throw std::invalid_argument("negative index stride");
    t.istrides[d] = istrides.empty() ? acc : istrides[d];
    acc *= std::max<int64_t>(sizes[d], 1);
  }
  t.offset = offset;
  return t;
}

void check_dtype(int dtype) {
  if (dtype < kFloat32 || dtype > kBFloat16) throw std::invalid_argument("unknown dtype code");
}


constexpr uint64_t kKeepGilElems = 4096;

// A CPU fill of any distribution: GIL released, in slices of at most 64 MiB (tens of ms)
// between which Ctrl-C is honoured: the fill then stops with a KeyboardInterrupt,
// leaving the target partly filled.
void cpu_fill(uintptr_t ptr, int dtype, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
              uint64_t offset, const std::vector<int64_t>& istrides, const std::string& isa, int threads,
              const FillParams& p) {
  const FillTarget t = make_target(ptr, sizes, strides, offset, istrides);
  const int which = isa.empty() ? active_isa() : isa_from_name(isa);
  if (which < 0 || !isa_supported(which)) throw std::invalid_argument("ISA '" + isa + "' is not available");
  const RunKernel kernel = isa_kernel(which);
  const uint64_t total = numel(t);
  // A small fill (a few microseconds, on the calling thread) keeps the GIL: releasing and
  // taking it back would cost about as much as the fill.
  if (total < kKeepGilElems) {
    fill_cpu(t, p, kernel, threads, 0, total, prepare_cpu_target(t, dtype));
    return;
  }
  const uint64_t slice = (64ull << 20) / static_cast<uint64_t>(dtype_size(dtype));
  bool fresh = false;
  {
    py::gil_scoped_release nogil;
    fresh = prepare_cpu_target(t, dtype);
  }
  for (uint64_t begin = 0; begin < total; begin += slice) {
    {
      py::gil_scoped_release nogil;
      fill_cpu(t, p, kernel, threads, begin, begin + std::min(slice, total - begin), fresh);
    }
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
  }
}

#if defined(FASTINIT_WITH_CUDA)
void cuda_fill(uintptr_t ptr, int device, uintptr_t stream, const std::vector<int64_t>& sizes,
               const std::vector<int64_t>& strides, uint64_t offset, const std::vector<int64_t>& istrides,
               const FillParams& p) {
  const FillTarget t = make_target(ptr, sizes, strides, offset, istrides);
  py::gil_scoped_release nogil;
  fill_cuda(t, p, device, stream);
}
#else
[[noreturn]] void no_cuda() { throw std::runtime_error("fastinit was built without CUDA (" FASTINIT_CUDA_BUILD_REASON ")"); }
#endif

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastinit kernels (private; use the fastinit package)";
  // The most dims one kernel call takes; Python loops over any further leading dims.
  m.attr("kMaxDims") = kMaxDims;

  m.def(
      "philox4x32_10",
      [](std::array<uint32_t, 4> c, std::array<uint32_t, 2> k) {
        const Philox4 r = philox4x32_10(Philox4{{c[0], c[1], c[2], c[3]}}, k[0], k[1]);
        return std::array<uint32_t, 4>{r.v[0], r.v[1], r.v[2], r.v[3]};
      },
      py::arg("counter"), py::arg("key"));

  m.def(
      "fill",
      [](uintptr_t ptr, int dtype, std::vector<int64_t> sizes, std::vector<int64_t> strides, double lo, double hi,
         uint64_t seed, uint64_t offset, const std::string& isa, int threads, std::vector<int64_t> istrides) {
        check_dtype(dtype);
        cpu_fill(ptr, dtype, sizes, strides, offset, istrides, isa, threads, make_fill_params(dtype, lo, hi, seed));
      },
      py::arg("ptr"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"), py::arg("lo"), py::arg("hi"),
      py::arg("seed"), py::arg("offset"), py::arg("isa") = "", py::arg("threads") = 0,
      py::arg("istrides") = std::vector<int64_t>{});

  // The per-call fast path (python/fastinit/_api.py, _fast_fill): a contiguous CPU target
  // of n elements, uniform (dist 0: lo, hi) or normal (dist 1: mean, std); scalar
  // arguments only, so the call converts no lists.
  m.def(
      "fill_contiguous",
      [](int dist, uintptr_t ptr, int dtype, int64_t n, double p1, double p2, uint64_t seed, uint64_t offset,
         uintptr_t key_words) {
        check_dtype(dtype);
        if (key_words != 0) {
          // seed=None: the two int64 words just drawn into the caller's buffer
          // (python/fastinit/_seed.py, torch_seed_words); the key is w[0] | w[1] << 32.
          const int64_t* w = reinterpret_cast<const int64_t*>(key_words);
          seed = static_cast<uint64_t>(w[0]) | (static_cast<uint64_t>(w[1]) << 32);
        }
        if (dist != kUniform && dist != kNormal) throw std::invalid_argument("unknown distribution");
        if (n < 0) throw std::invalid_argument("negative size");
        const FillParams p = dist == kUniform ? make_fill_params(dtype, p1, p2, seed)
                                              : make_normal_params(dtype, p1, p2, seed);
        cpu_fill(ptr, dtype, {n}, {dtype_size(dtype)}, offset, {}, "", 0, p);
      },
      py::arg("dist"), py::arg("ptr"), py::arg("dtype"), py::arg("n"), py::arg("p1"), py::arg("p2"), py::arg("seed"),
      py::arg("offset"), py::arg("key_words") = 0);

  m.def(
      "fill_normal",
      [](uintptr_t ptr, int dtype, std::vector<int64_t> sizes, std::vector<int64_t> strides, double mean,
         double std, uint64_t seed, uint64_t offset, const std::string& isa, int threads, std::vector<int64_t> istrides) {
        check_dtype(dtype);
        cpu_fill(ptr, dtype, sizes, strides, offset, istrides, isa, threads, make_normal_params(dtype, mean, std, seed));
      },
      py::arg("ptr"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"), py::arg("mean"), py::arg("std"),
      py::arg("seed"), py::arg("offset"), py::arg("isa") = "", py::arg("threads") = 0,
      py::arg("istrides") = std::vector<int64_t>{});

  m.def(
      "fill_trunc_normal",
      [](uintptr_t ptr, int dtype, std::vector<int64_t> sizes, std::vector<int64_t> strides, double mean,
         double std, double a, double b, uint64_t seed, uint64_t offset, const std::string& isa, int threads, std::vector<int64_t> istrides) {
        check_dtype(dtype);
        cpu_fill(ptr, dtype, sizes, strides, offset, istrides, isa, threads,
                 make_trunc_normal_params(dtype, mean, std, a, b, seed));
      },
      py::arg("ptr"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"), py::arg("mean"), py::arg("std"),
      py::arg("a"), py::arg("b"), py::arg("seed"), py::arg("offset"), py::arg("isa") = "", py::arg("threads") = 0,
      py::arg("istrides") = std::vector<int64_t>{});

  m.def(
      "fill_cuda",
      [](uintptr_t ptr, int device, uintptr_t stream, int dtype, std::vector<int64_t> sizes,
         std::vector<int64_t> strides, double lo, double hi, uint64_t seed, uint64_t offset, std::vector<int64_t> istrides) {
        check_dtype(dtype);
#if defined(FASTINIT_WITH_CUDA)
        cuda_fill(ptr, device, stream, sizes, strides, offset, istrides, make_fill_params(dtype, lo, hi, seed));
#else
        (void)ptr, (void)device, (void)stream, (void)sizes, (void)strides, (void)lo, (void)hi, (void)seed,
            (void)offset, (void)istrides;
        no_cuda();
#endif
      },
      py::arg("ptr"), py::arg("device"), py::arg("stream"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"),
      py::arg("lo"), py::arg("hi"), py::arg("seed"), py::arg("offset"), py::arg("istrides") = std::vector<int64_t>{});

  m.def(
      "fill_cuda_normal",
      [](uintptr_t ptr, int device, uintptr_t stream, int dtype, std::vector<int64_t> sizes,
         std::vector<int64_t> strides, double mean, double std, uint64_t seed, uint64_t offset, std::vector<int64_t> istrides) {
        check_dtype(dtype);
#if defined(FASTINIT_WITH_CUDA)
        cuda_fill(ptr, device, stream, sizes, strides, offset, istrides, make_normal_params(dtype, mean, std, seed));
#else
        (void)ptr, (void)device, (void)stream, (void)sizes, (void)strides, (void)mean, (void)std, (void)seed,
            (void)offset, (void)istrides;
        no_cuda();
#endif
      },
      py::arg("ptr"), py::arg("device"), py::arg("stream"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"),
      py::arg("mean"), py::arg("std"), py::arg("seed"), py::arg("offset"), py::arg("istrides") = std::vector<int64_t>{});

  m.def(
      "fill_cuda_trunc_normal",
      [](uintptr_t ptr, int device, uintptr_t stream, int dtype, std::vector<int64_t> sizes,
         std::vector<int64_t> strides, double mean, double std, double a, double b, uint64_t seed, uint64_t offset, std::vector<int64_t> istrides) {
        check_dtype(dtype);
#if defined(FASTINIT_WITH_CUDA)
        cuda_fill(ptr, device, stream, sizes, strides, offset, istrides, make_trunc_normal_params(dtype, mean, std, a, b, seed));
#else
        (void)ptr, (void)device, (void)stream, (void)sizes, (void)strides, (void)mean, (void)std, (void)a, (void)b,
            (void)seed, (void)offset, (void)istrides;
        no_cuda();
#endif
      },
      py::arg("ptr"), py::arg("device"), py::arg("stream"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"),
      py::arg("mean"), py::arg("std"), py::arg("a"), py::arg("b"), py::arg("seed"), py::arg("offset"), py::arg("istrides") = std::vector<int64_t>{});

  // Private test hooks: the scalar elementary functions of normal.h (the reference every
  // path matches bit for bit). Vectorised: a float or an array in, the same shape out.
  m.def("log32", py::vectorize([](float x) { return log32(x); }), py::arg("x"));
  m.def("log64", py::vectorize([](double x) { return log64(x); }), py::arg("x"));
  m.def("ndtri_lower32", py::vectorize([](float u) { return ndtri_lower32(u); }), py::arg("u"));
  m.def("ndtri_lower64", py::vectorize([](double u) { return ndtri_lower64(u); }), py::arg("u"));
  m.def("ndtr64", py::vectorize([](double x) { return ndtr64(x); }), py::arg("x"));
  m.def(
      "trunc_normal_params",
      [](int dtype, double mean, double std, double a, double b) {
        const FillParams p = make_trunc_normal_params(dtype, mean, std, a, b, 0);
        py::dict d;
        d["plo"] = p.plo64;
        d["span"] = p.span64;
        d["flip"] = p.flip64;
        d["plo32"] = p.plo32;
        d["span32"] = p.span32;
        return d;
      },
      py::arg("dtype"), py::arg("mean"), py::arg("std"), py::arg("a"), py::arg("b"));

  m.def("cuda_compiled", [] {
#if defined(FASTINIT_WITH_CUDA)
    return true;
#else
    return false;
#endif
  });
  m.def("cuda_available", [] {
#if defined(FASTINIT_WITH_CUDA)
    std::string why;
    const bool ok = cuda_available(&why);
    return py::make_tuple(ok, why);
#else
    return py::make_tuple(false, std::string("built without CUDA (" FASTINIT_CUDA_BUILD_REASON ")"));
#endif
  });

  m.def("active_isa", [] { return std::string(isa_name(active_isa())); });
  m.def("available_isas", [] {
    std::vector<std::string> out;
    for (int i = 0; i < kIsaCount; ++i)
      if (isa_supported(i)) out.emplace_back(isa_name(i));
    return out;
  });
  m.def("kernel_calls", [] {
    py::dict d;
    const auto calls = kernel_calls();
    for (int i = 0; i < kIsaCount; ++i) d[isa_name(i)] = calls[i];
    return d;
  });
  m.def("set_hugepage_advice", &set_hugepage_advice, py::arg("enabled"));
  m.def("get_hugepage_advice", &get_hugepage_advice);
  m.def("get_num_threads", &get_num_threads);
  m.def("set_num_threads", &set_num_threads, py::arg("n"));
  m.def("default_num_threads", &default_num_threads);
}
