"""Helpers shared by several test files (imported as `helpers`; conftest puts this
directory on sys.path)."""

from __future__ import annotations

import math

import ml_dtypes
import numpy as np
import torch

TORCH_DTYPES = {"float32": torch.float32, "float64": torch.float64, "float16": torch.float16,
                "bfloat16": torch.bfloat16}
NP_DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64), "float16": np.dtype(np.float16),
             "bfloat16": np.dtype(ml_dtypes.bfloat16)}


def storage_round(x, dt):
    """x rounded to the storage type as the kernels round parameters (via float32 for
    the 16-bit types)."""
    if dt == "float64" or not math.isfinite(x):
        return float(x)
    v = np.float32(x)
    if dt == "float32":
        return float(v)
    return float(np.asarray(v).astype(NP_DTYPES[dt]).astype(np.float64))


def all_finite_values(dt):
    """Every finite value of a 16-bit float type, sorted, +0/-0 merged."""
    bits = np.arange(1 << 16, dtype=np.uint16)
    with np.errstate(invalid="ignore"):
        v = bits.view(NP_DTYPES[dt]).astype(np.float64)
    return np.unique(v[np.isfinite(v)])


class Recorder(torch.Tensor):
    """A __torch_function__ subclass that records the call and handles it itself."""

    log = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.log.append((func, types, args, dict(kwargs or {})))
        return "dispatched"


class Deferring(torch.Tensor):
    """A __torch_function__ subclass that records the call and defers to torch."""

    log = []

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        cls.log.append(func)
        return super().__torch_function__(func, types, args, kwargs or {})
