"""``patch_torch_init()``: build models with fastinit's fills instead of torch's.

Inside ``with fastinit.patch_torch_init():`` every ``torch.nn.init`` function that fastinit
provides (``uniform_``, ``normal_``, ``kaiming_uniform_``, ``kaiming_normal_``,
``xavier_uniform_``, ``xavier_normal_``, ``trunc_normal_``, ``constant_``, ``ones_``,
``zeros_``: whichever of them this fastinit has) *is* fastinit's function, so module
constructors (``nn.Linear``, the conv layers, ``nn.Embedding``, ``nn.MultiheadAttention``,
...) fill their weights with fastinit. On exit, even through an exception, every replaced
reference is put back, so ``torch.nn.init.normal_ is`` the original object again.

What is replaced
----------------
* the attributes of ``torch.nn.init``;
* every reference to those same function objects held by any imported module (a scan of
  ``sys.modules`` by identity): torch's own ``from torch.nn.init import xavier_uniform_``
  in ``torch.nn.modules.activation`` and ``torch.nn.modules.transformer``, and the same
  in user and library code;
* Hugging Face ``transformers`` (when imported): ``transformers.initialization`` keeps
  torch's functions, captured at import time, in the dict ``TORCH_INIT_FUNCTIONS``, and its
  guarded wrappers (``init.normal_`` etc., which skip tensors flagged
  ``_is_hf_initialized``) call through that dict. Its entries are replaced too, so the
  models' ``_init_weights`` (run by ``post_init()`` in the constructor) fill with fastinit
  while keeping the guard. ``guard_torch_init_functions()`` and ``no_init_weights()``
  (used by ``from_pretrained``) save whatever ``torch.nn.init`` holds when they start and
  put it back when they end, so they nest inside this context unchanged:
  ``no_init_weights`` still skips all init, and loaded weights are still never
  re-initialized;
* timm (when imported): ``timm.layers.weight_init.trunc_normal_`` (timm's own copy of
  torch's ``trunc_normal_``, same signature and distribution) and its by-value imports
  (``timm.layers.trunc_normal_``, the models') become ``fastinit.trunc_normal_``.

* ``nn.Embedding`` / ``nn.EmbeddingBag``'s padding-row zeroing, for DTensor weights only:
  torch's ``weight[padding_idx].fill_(0)`` leaves a weight sharded along dim 0 unchanged
  (it fills a gathered copy); inside the block the rank holding the row zeroes it.

* torch's deprecated aliases (``nn.init.normal``, ``nn.init.orthogonal``, ...), which close
  over torch's own functions: they keep their ``FutureWarning`` and call fastinit's.

Not replaced: ``torch.Tensor.uniform_``/``normal_`` and other tensor methods (code that
calls ``w.data.normal_()`` directly still uses torch), and references taken
*inside* the context by user code imported there (``from torch.nn.init import normal_`` run
inside the block binds fastinit's function and keeps it). torch, transformers and timm
modules first imported inside the block are fixed up when the outermost block ends
(``transformers.initialization`` imported inside the block captures fastinit's functions
in ``TORCH_INIT_FUNCTIONS``; they are put back to torch's).

Seeds: the replacements are called without ``seed=``, so each fill draws its 64-bit key
from ``generator`` or ``torch.default_generator``; ``torch.manual_seed(s)`` before the block
makes the model reproducible (with fastinit's values, not torch's).

Nesting is safe, also across threads and with exits in any order: open blocks are
counted under a lock, and everything is restored when the last open block exits. The
patch is process-wide: other threads see fastinit's functions while any block is open.
"""

from __future__ import annotations

import contextlib
import sys
import threading

from ..core.shards import is_dtensor, zero_row
from .. import fills as _fills
from ..fills import registry as _registry

__all__ = ["patch_torch_init", "PATCHED_NAMES"]

#: torch.nn.init names that fastinit replaces, in the order they are patched: the registry's
#: torch counterparts (fastinit.fills.registry, one entry per init function).
PATCHED_NAMES = _registry.torch_names()

_lock = threading.RLock()
_depth = 0  # open patch_torch_init blocks, process-wide
_undo_log: list = []  # what the open blocks replaced, undone when the last one exits
_LIBRARY_PREFIXES = ("torch.", "transformers.", "timm.")
_torch_originals: dict = {}  # name -> torch.nn.init's own function, once found
_sources: dict = {}  # id(replacement installed by some block) -> (torch name, replacement)


def _is_torch_own(fn, name, tinit) -> bool:
    """``fn`` is the function ``name`` defined in torch/nn/init.py (not a wrapper)."""
    code = getattr(fn, "__code__", None)
    return (code is not None and getattr(fn, "__module__", None) == "torch.nn.init"
            and getattr(fn, "__name__", None) == name and code.co_filename == getattr(tinit, "__file__", None))


def _find_torch_own(name, tinit):
    """torch.nn.init's own ``name``, even while another library has wrapped the attribute:
    the attribute, its ``__wrapped__`` chain, the closure of torch's deprecated alias
    (``nn.init.normal`` closes over ``normal_``, torch.nn.init._make_deprecate), torch's
    own by-value imports (torch.nn.modules.*)."""
    fn, seen = tinit.__dict__.get(name), 0
    while fn is not None and seen < 16:
        if _is_torch_own(fn, name, tinit):
            return fn
        fn, seen = getattr(fn, "__wrapped__", None), seen + 1
    alias = tinit.__dict__.get(name[:-1])
    for cell in getattr(alias, "__closure__", None) or ():
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if _is_torch_own(v, name, tinit):
            return v
    for mname, mod in list(sys.modules.items()):
        if mname.startswith("torch.nn."):
            v = getattr(mod, "__dict__", {}).get(name)
            if v is not None and _is_torch_own(v, name, tinit):
                return v
    return None


def _originals_of_torch() -> dict:
    """torch.nn.init's own functions by name, found from torch/nn/init.py's definitions
    (not whatever is bound at first use), so neither a patch in place (ours or another
    library's wrapper) is mistaken for the original nor hides it for the rest of the
    process: a name not found now is looked for again next time."""
    try:
        import torch.nn.init as tinit
    except ImportError as e:
        raise ImportError(
            "fastinit.patch_torch_init() needs torch: it swaps fastinit's fills into torch.nn.init "
            "(pip install torch); NumPy arrays need no patch"
        ) from e

    for name in PATCHED_NAMES:
        if name not in _torch_originals:
            fn = _find_torch_own(name, tinit)
            if fn is not None:
                _torch_originals[name] = fn
    return _torch_originals


def _deprecated_alias(alias: str, new):
    """torch's deprecated ``nn.init.<alias>`` (torch.nn.init._make_deprecate): the same
    FutureWarning, then fastinit's function."""
    import warnings

    def deprecated_init(*args, **kwargs):
        warnings.warn(f"`nn.init.{alias}` is now deprecated in favor of `nn.init.{alias}_`.", FutureWarning,
                      stacklevel=2)
        return new(*args, **kwargs)

    deprecated_init.__name__ = alias
    return deprecated_init


def _replacement_map(source=None, over_fastinit=False) -> dict:
    """id(original function) -> (original, replacement from ``source``: fastinit). With
    ``over_fastinit``, fastinit's own functions (installed by an open patch_torch_init
    block) are replaced too."""
    if source is None:
        source = _fills
    out = {}
    for name, orig in _originals_of_torch().items():
        new = getattr(source, name, None)
        if new is not None:
            out[id(orig)] = (orig, new)
            _sources[id(new)] = (name, new)
            mine = getattr(_fills, name, None)
            if over_fastinit and mine is not None and mine is not new:
                out[id(mine)] = (mine, new)
    tinit = sys.modules["torch.nn.init"]
    for name in PATCHED_NAMES:
        alias, new = getattr(tinit, name[:-1], None), getattr(source, name, None)
        if (new is not None and callable(alias) and getattr(alias, "__module__", None) == "torch.nn.init"
                and getattr(alias, "__name__", None) == name[:-1]):
            out[id(alias)] = (alias, _deprecated_alias(name[:-1], new))
    new_tn = getattr(source, "trunc_normal_", None)
    timm_wi = sys.modules.get("timm.layers.weight_init")
    if new_tn is not None and timm_wi is not None:
        orig = getattr(timm_wi, "trunc_normal_", None)
        if callable(orig) and getattr(orig, "__module__", None) == "timm.layers.weight_init":
            out[id(orig)] = (orig, new_tn)
    return out


def _apply(repl: dict) -> list:
    """Replace every reference; return the undo log [(setter, container, key, old)]."""
    undo = []
    try:
        for mname, mod in list(sys.modules.items()):
            if mname == "fastinit" or mname.startswith("fastinit."):
                continue  # fastinit's own functions stay themselves (the replacements call them)
            d = getattr(mod, "__dict__", None)
            if not isinstance(d, dict):
                continue
            hits = [(k, v) for k, v in list(d.items()) if id(v) in repl and repl[id(v)][0] is v]
            for k, v in hits:
                setattr(mod, k, repl[id(v)][1])
                undo.append((setattr, mod, k, v))
        hf = sys.modules.get("transformers.initialization")
        table = getattr(hf, "TORCH_INIT_FUNCTIONS", None)
        if isinstance(table, dict):
            for k, v in list(table.items()):
                if id(v) in repl and repl[id(v)][0] is v:
                    table[k] = repl[id(v)][1]
                    undo.append((dict.__setitem__, table, k, v))
        _patch_padding_zeroing(undo)
    except BaseException:
        _undo(undo)
        raise
    return undo


def _patch_padding_zeroing(undo: list) -> None:
    """nn.Embedding / nn.EmbeddingBag zero their padding row with ``weight[idx].fill_(0)``,
    which does nothing to a weight sharded along dim 0 as a DTensor (it fills a gathered
    copy). Inside the block they zero the row in place on the rank that holds it."""
    nn = getattr(sys.modules.get("torch"), "nn", None)
    for cls in (getattr(nn, "Embedding", None), getattr(nn, "EmbeddingBag", None)):
        orig = getattr(cls, "__dict__", {}).get("_fill_padding_idx_with_zero")
        if orig is None or hasattr(orig, "_fastinit_original"):
            continue
        setattr(cls, "_fill_padding_idx_with_zero", _padding_zeroing(orig))
        undo.append((setattr, cls, "_fill_padding_idx_with_zero", orig))


def _padding_zeroing(orig):
    def _fill_padding_idx_with_zero(self):

        if self.padding_idx is None or not is_dtensor(self.weight):
            return orig(self)
        if self.weight.device.type != "meta":
            zero_row(self.weight, self.padding_idx)
        return None

    _fill_padding_idx_with_zero._fastinit_original = orig
    return _fill_padding_idx_with_zero


def _undo(undo: list) -> None:
    for setter, container, key, old in reversed(undo):
        setter(container, key, old)


def _unbind_captured_inside() -> None:
    """After the outermost block: torch, transformers and timm modules first imported
    inside it captured fastinit's functions by value (transformers' TORCH_INIT_FUNCTIONS
    is built at import time). Give them torch's originals, which they meant to capture.
    User modules are left alone (they may import fastinit's functions on purpose)."""
    back = {}
    originals = _originals_of_torch()
    for name, orig in originals.items():
        new = getattr(_fills, name, None)
        if new is not None:
            back[(name, id(new))] = orig
    for name, new in _sources.values():
        if name in originals:
            back[(name, id(new))] = originals[name]
    if not back:
        return
    for mname, mod in list(sys.modules.items()):
        if not (mname == "torch" or mname.startswith(_LIBRARY_PREFIXES)):
            continue
        d = getattr(mod, "__dict__", None)
        if not isinstance(d, dict):
            continue
        for k, v in list(d.items()):
            orig = back.get((k, id(v)))
            if orig is not None:
                setattr(mod, k, orig)
    hf = sys.modules.get("transformers.initialization")
    table = getattr(hf, "TORCH_INIT_FUNCTIONS", None)
    if isinstance(table, dict):
        for k, v in list(table.items()):
            orig = back.get((k, id(v)))
            if orig is not None:
                table[k] = orig


@contextlib.contextmanager
def patch_torch_init():
    """Context manager: torch's init functions are fastinit's inside the block.

    ``torch.nn.init``'s functions, every by-value import of them (torch's own modules,
    user and library code), Hugging Face's ``TORCH_INIT_FUNCTIONS`` and timm's
    ``trunc_normal_`` become fastinit's; everything is restored on exit, also after an
    exception, and stays patched while any block (on any thread) is still open. Models
    built inside get the same distributions as torch's defaults, with fastinit's values
    (keys drawn from ``torch.default_generator``, so ``torch.manual_seed`` makes a build
    reproducible). Code that calls ``tensor.normal_()`` directly is not affected. See
    ``fastinit._patch``'s module docstring for exactly what is and is not replaced.

    Needs torch.

    Example:
        >>> torch.manual_seed(0)
        >>> with fastinit.patch_torch_init():
        ...     model = torch.nn.Transformer()
    """
    with _swap(None):
        yield


@contextlib.contextmanager
def _swap(source, over_fastinit=False):
    """patch_torch_init with the replacements taken from ``source`` (default fastinit;
    ``over_fastinit``: fastinit's own functions are replaced too).

    The patch is process-wide and reference-counted: the first block to open applies it,
    and it stays in force until every open block has exited, in whatever order and on
    whatever threads they exit. A block opened while another is open applies only what
    its ``source`` replaces that is not replaced yet (nothing, for the same source), and
    all of it is undone together when the count returns to 0.

    Signal handlers: a block opened and closed by a handler that interrupts this thread
    anywhere inside these two critical sections must not undo this block's patch. So the
    count goes up *before* the patch is applied (a handler's block then never sees the
    count return to 0 while this block is being applied), and on exit the log is detached
    before it is undone (a handler's block opened during the undo applies and undoes only
    its own entries). The lock is re-entrant, so a handler on the thread that holds it
    does not deadlock."""
    global _depth
    with _lock:
        _depth += 1
        try:
            _undo_log.extend(_apply(_replacement_map(source, over_fastinit)))
        except BaseException:
            _close()
            raise
    try:
        yield
    finally:
        with _lock:
            _close()


def _close() -> None:
    """One block exits (call with ``_lock`` held)."""
    global _depth
    _depth -= 1
    if _depth == 0:
        undo = _undo_log[:]
        del _undo_log[:len(undo)]
        _undo(undo)
        _unbind_captured_inside()
