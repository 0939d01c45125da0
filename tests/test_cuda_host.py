"""The CUDA kernels' per-thread code, bit for bit against the CPU fill, on machines without a GPU.

tests/native/cuda_host_check.sh compiles tests/native/cuda_host_check.cu with nvcc as a
host program: it #includes csrc/fill_cuda.cu and, for each target, does what fill_cuda()
does (coalesce, plan_contig or plan_strided), then runs contig_work / strided_work for
every thread index serially on the host (several thread counts, one in reverse order)
into a buffer with guard bytes. The result must equal fastinit::fill_cpu with the scalar
kernel and a whole-tensor reference (a contiguous fill of the global tensor, the box's
elements copied out), byte for byte including the guards and the gaps between elements.
Cases: every dtype and distribution; contiguous, strided (negative, odd, misaligned,
padded, transposed), boxes of a sharded tensor (global index strides, inner width 1,
size-1 dims, 16 dims), empty targets; stream positions near 0, 2^32, 2^62, 2^63 and 2^64;
plus fixed-seed random cases. It checks the CUDA indexing logic, not device code
generation (that is tests/test_cuda.py's job on a GPU). No GPU or CUDA driver is needed;
skipped (with the reason) only where nvcc is missing.
"""
from __future__ import annotations

import os

import pytest

from helpers import run_native_check

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "cuda_host_check.sh")


@pytest.mark.slow
def test_cuda_kernel_logic_matches_cpu_fill_under_host_emulation():
    run_native_check(_SCRIPT, timeout=600)


_CVT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "cvt_check.sh")
_FMAD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "native", "fmad_check.sh")


@pytest.mark.slow
def test_cuda_half_conversions_equal_fastinit_rounding_on_all_floats():
    """value.h's f32_to_f16_bits_cvt / f32_to_bf16_bits_cvt (cuda_fp16.h / cuda_bf16.h, the
    conversions the CUDA kernel uses, host implementations) equal f32_to_f16_bits /
    f32_to_bf16_bits on all 2^32 float bit patterns (about 25 s of CPU, all cores)."""
    run_native_check(_CVT, timeout=1200)


def test_cuda_value_code_does_not_depend_on_fmad():
    """The PTX of every value function is the same with --fmad=true and --fmad=false: every
    product that feeds an add is an explicit _rn operation (bit-identity does not rest on
    the build flag)."""
    run_native_check(_FMAD, timeout=300)
