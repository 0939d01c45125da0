"""Docstring text shared by the public fills: written once here and put into each
function's docstring at import (the ``{...}`` keys of ``_FRAGMENTS`` stand for it in the
source), so that ``help()`` shows every parameter while the text has one copy."""

__all__ = ["shared_doc"]

_FRAGMENTS = {
    "    {guarantee}\n": """    The element at row-major position ``i`` of the shape (not its memory address) gets a
    value that depends only on ``(seed, offset + i)`` and the parameters: the same bits on
    any thread count, SIMD path (scalar, AVX2, AVX-512), device, memory layout and
    sharding. docs/STREAM.md defines the bits.
""",
    "        {refusals}\n": """        input, in torch's order; TypeError or ValueError for what fastinit refuses
        (integer, bool or complex dtypes, read-only or overlapping views, non-arrays, a
        seed or offset outside [0, 2**64)); RuntimeError for a tensor that a torch.func
        transform (vmap, grad, jvp, jacrev, jacfwd) wraps, naming the transform (call
        torch.nn.init's function there; a plain tensor used inside a transform is filled
        as anywhere else). Nothing is written and no generator advances when a call raises.
""",
    "{tensor_arg}": """tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA (float32, float64, float16, bfloat16; any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array (the
            same dtypes, bfloat16 as ``ml_dtypes.bfloat16``) or an object with
            ``__cuda_array_interface__``.""",
    "{constant_tensor_arg}": """tensor: the tensor or array to fill in place, any shape (0-d included): a torch
            tensor on CPU or CUDA of any dtype torch fills (any strided view; an
            ``nn.Parameter``; a DTensor, each rank filling its shard), a NumPy array of a
            bool, integer, float, complex or ``ml_dtypes.bfloat16`` dtype, or an object
            with ``__cuda_array_interface__``. A tensor that a torch.func transform (vmap,
            grad, jvp) wraps is filled by torch's own ``fill_``/``zero_``, as
            torch.nn.init's function fills it.""",
    "        {constant_seed_offset}\n": """        seed, offset (keyword-only): accepted and checked as for the random fills (an int
            in [0, 2**64)), and otherwise ignored, so that code passing them to every
            init function works.
""",
    "        {generator_seed_offset}\n": """        generator: where the key comes from when ``seed`` is None. For a torch tensor a
            ``torch.Generator`` (default: ``torch.default_generator``, the CPU generator,
            also for CUDA tensors); for a NumPy array a ``numpy.random.Generator`` or an
            int (meaning ``numpy.random.default_rng(int)``), default NumPy's global
            state. One 64-bit key is drawn per call (docs/STREAM.md section 4).
        seed (int, keyword-only): the Philox key, in [0, 2**64). When given, no generator
            is read or advanced, and the values depend only on (seed, offset, shape,
            dtype, parameters).
        offset (int, keyword-only): the stream index of element 0, in [0, 2**64); default
            0. A part of a tensor filled with offset = the global index of its first
            element gets exactly the values the whole tensor holds there.
""",
}


def shared_doc(fn):
    """Fills the shared fragments into ``fn.__doc__`` (absent under ``python -OO``)."""
    if fn.__doc__:
        doc = fn.__doc__
        for key, text in _FRAGMENTS.items():
            doc = doc.replace(key, text)
        fn.__doc__ = doc
    return fn
