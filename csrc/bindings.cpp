// Thin pybind11 layer: argument unpacking, GIL release, errors as Python exceptions.
// All validation of user input happens in python/fastinit.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <array>
#include <stdexcept>
#include <string>
#include <vector>

#include "fill_cpu.h"
#include "fill_cuda.h"
#include "kernels.h"
#include "philox.h"
#include "threadpool.h"

namespace py = pybind11;
using namespace fastinit;

namespace {

FillTarget make_target(uintptr_t ptr, const std::vector<int64_t>& sizes, const std::vector<int64_t>& strides,
                       uint64_t offset) {
  if (sizes.size() != strides.size()) throw std::invalid_argument("sizes and strides differ in length");
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
  t.offset = offset;
  return t;
}

void check_dtype(int dtype) {
  if (dtype < kFloat32 || dtype > kBFloat16) throw std::invalid_argument("unknown dtype code");
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastinit kernels (private; use the fastinit package)";

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
         uint64_t seed, uint64_t offset, const std::string& isa, int threads) {
        check_dtype(dtype);
        const FillTarget t = make_target(ptr, sizes, strides, offset);
        int which = isa.empty() ? active_isa() : isa_from_name(isa);
        if (which < 0 || !isa_supported(which)) throw std::invalid_argument("ISA '" + isa + "' is not available");
        const FillParams p = make_fill_params(dtype, lo, hi, seed);
        const RunKernel kernel = isa_kernel(which);
        const uint64_t total = numel(t);
        // Slices of at most 64 MiB (tens of ms) between which Ctrl-C is honoured: the
        // fill then stops with a KeyboardInterrupt, leaving the target partly filled.
        const uint64_t slice = (64ull << 20) / static_cast<uint64_t>(dtype_size(dtype));
        {
          py::gil_scoped_release nogil;
          prepare_cpu_target(t, dtype);
        }
        for (uint64_t begin = 0; begin < total; begin += slice) {
          {
            py::gil_scoped_release nogil;
            fill_cpu(t, p, kernel, threads, begin, begin + std::min(slice, total - begin));
          }
          if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        }
      },
      py::arg("ptr"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"), py::arg("lo"), py::arg("hi"),
      py::arg("seed"), py::arg("offset"), py::arg("isa") = "", py::arg("threads") = 0);

  m.def(
      "fill_cuda",
      [](uintptr_t ptr, int device, uintptr_t stream, int dtype, std::vector<int64_t> sizes,
         std::vector<int64_t> strides, double lo, double hi, uint64_t seed, uint64_t offset) {
#if defined(FASTINIT_WITH_CUDA)
        check_dtype(dtype);
        const FillTarget t = make_target(ptr, sizes, strides, offset);
        const FillParams p = make_fill_params(dtype, lo, hi, seed);
        py::gil_scoped_release nogil;
        fill_cuda(t, p, device, stream);
#else
        (void)ptr, (void)device, (void)stream, (void)dtype, (void)sizes, (void)strides, (void)lo, (void)hi,
            (void)seed, (void)offset;
        throw std::runtime_error("fastinit was built without CUDA (FASTINIT_CUDA=OFF)");
#endif
      },
      py::arg("ptr"), py::arg("device"), py::arg("stream"), py::arg("dtype"), py::arg("sizes"), py::arg("strides"),
      py::arg("lo"), py::arg("hi"), py::arg("seed"), py::arg("offset"));

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
    return py::make_tuple(false, std::string("built without CUDA"));
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
