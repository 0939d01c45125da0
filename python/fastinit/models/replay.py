"""materialize_'s replay of a record: keys, fastinit fills, torch's RNG ops with seeded
generators, DTensor shards, allocation."""

from __future__ import annotations

from .. import fills as _fills
from ..core.seeds import derive_seed
from .rng import key_name, seeded_torch_op
from .records import (
    _DEVICE, _ELEMENTWISE, _PURE_WRITES, DeferredInitError, _Const, _Ref, _refs_in,
)
from .shapes import _dense, _torch
from ..core.shards import dtensor_segments, is_dtensor, local_tensor


def _view(base, ref):
    """The view ``ref`` of the storage that ``base`` (its root layout) holds; a view of
    another dtype (``.real`` of a complex tensor, ``view(dtype)``) reinterprets the bytes,
    its sizes, strides and offset counted in its own elements."""
    torch = _torch()
    if ref.dtype == base.dtype:
        return torch.as_strided(base, ref.size, ref.stride, ref.offset)
    out = torch.empty(0, dtype=ref.dtype, device=base.device)
    return out.set_(base.untyped_storage(), ref.offset, ref.size, ref.stride)


# fills that depend on the whole tensor (sparse_'s per-column zeros, orthogonal_'s QR): not
# written shard by shard, but built whole and sliced
_WHOLE_ONLY = ("sparse_", "orthogonal_")


class _Replay:
    def __init__(self, seed, device, poison=False):
        self.seed = seed
        self.device = device
        self.poison = poison  # fill fresh memory with NaN / -1 first (tests: unwritten elements show)
        self.memo = {}  # (id(storage), version) -> real root tensor
        self.keys = {}
        self.live = None  # (storage, base) being replayed

    def key(self, st, op):
        """The key of the random op ``op`` on ``st`` (docs/STREAM.md section 4.1)."""
        name = op.key_name or key_name(st.name, op.ordinal, op.init_pass > 0)
        v = self.keys.get(name)
        if v is None:
            v = self.keys[name] = derive_seed(self.seed, name)
        return v

    # values of references
    def resolve(self, obj):
        if isinstance(obj, _Ref):
            if self.live is not None and self.live[0] is obj.st and obj.version == self.live[2]:
                base = self.live[1]
            else:
                base = self.state(obj.st, obj.version)
            return _view(base, obj)
        if isinstance(obj, _Const):
            v = obj.value
            return v.to(self.device) if v.dim() > 0 else v
        if obj is _DEVICE:
            return self.device
        if isinstance(obj, list):
            return [self.resolve(x) for x in obj]
        if isinstance(obj, tuple):
            return tuple(self.resolve(x) for x in obj)
        if isinstance(obj, dict):
            return {k: self.resolve(v) for k, v in obj.items()}
        return obj

    def empty_root(self, st):
        torch = _torch()
        m = st.meta
        store = torch.empty(st.nelem, dtype=m.dtype, device=self.device)
        if self.poison:
            _poison(store)
        return torch.as_strided(store, m.size(), m.stride(), m.storage_offset())

    def state(self, st, version):
        k = (id(st), version)
        base = self.memo.get(k)
        if base is None:
            base = self.empty_root(st)
            self.run(st, base, version)
            if st.nelem <= (1 << 20):
                self.memo[k] = base
        return base

    def run(self, st, base, upto, name=None):
        """Replay ``st``'s creation and writes [0, upto) into ``base`` (its root layout)."""
        torch = _torch()
        if st.error is not None and not any(i < upto for i in st.kills):
            raise DeferredInitError(f"materialize_: {name or st.name}: {st.error}")
        start = -1
        for i in st.kills:
            if i < upto:
                start = i
        mask = None
        saved = self.live
        try:
            with torch.no_grad():
                # ``base`` holds the state before op i from the first op after the root or
                # after the last whole overwrite on; the overwrite itself may read an earlier
                # state of this tensor (``a.copy_(a.uniform_(1, 16).log())``: Hugging Face's
                # A_log), which ``base`` does not hold yet: that read replays it separately.
                first_live = start + 1
                if start < 0:
                    self.apply_root(st, base, name)
                    start = first_live = 0
                    if st.root.kind == "alloc" and st.nelem:
                        mask = torch.zeros(st.nelem, dtype=torch.bool)
                for i in range(start, upto):
                    op = st.ops[i]
                    self.live = (st, base, i) if i >= first_live else saved
                    view = _view(base, op.ref)
                    self.apply(st, op, view, name)
                    if op.ref.dtype != base.dtype:
                        mask = None  # a reinterpreting view (.real, view(dtype)): not tracked
                    if mask is not None and (op.kind in ("fill", "trng", "const") or op.name in _PURE_WRITES
                                             or op.name == "__setitem__" or op.out == ()):
                        mview = torch.as_strided(mask, op.ref.size, op.ref.stride, op.ref.offset)
                        if op.name == "__setitem__":
                            idx = self.resolve(op.args[0])
                            idx = idx.cpu() if isinstance(idx, torch.Tensor) else _cpu_index(idx)
                            mview[idx] = True
                        else:
                            mview.fill_(True)
        finally:
            self.live = saved
        if mask is not None and not bool(mask.all()):
            missing = int((~mask).sum())
            raise DeferredInitError(
                f"materialize_: {name or st.name}: {missing} of {st.nelem} elements of a tensor created by "
                f"torch.{st.root.name} are never written by its constructor (an eager build leaves them "
                "uninitialized); initialize them in the constructor"
            )

    def apply_root(self, st, base, name):
        r = st.root
        if r.kind == "alloc":
            return
        if r.kind == "const":
            base.fill_(r.value)
            return
        if r.kind == "fill":
            self.fill(st, r, base)
            return
        try:
            if r.kind == "trng":
                res = seeded_torch_op(r.func, (), self.resolve(r.args), self.resolve(r.kwargs), self.key(st, r),
                                      self.device)
            else:
                res = r.func(*self.resolve(r.args), **self.resolve(r.kwargs))
        except DeferredInitError:
            raise
        except Exception as e:
            raise DeferredInitError(f"materialize_: {name or st.name}: replaying torch.{r.name} failed: "
                                    f"{type(e).__name__}: {e}") from e
        for i in r.out or ():
            res = res[i]
        base.copy_(res)

    def fill(self, st, op, target):
        """The recorded fastinit fill ``op`` on ``target``, keyed as its op (unless the call
        gave its own seed)."""
        kw = dict(op.kwargs)
        if not op.explicit_seed:
            kw["seed"] = self.key(st, op)
        getattr(_fills, op.name)(target, *op.args, **self.resolve(kw))

    def apply(self, st, op, view, name):
        if op.kind == "const":
            view.fill_(op.value)
        elif op.kind == "fill":
            self.fill(st, op, view)
        elif op.kind == "trng":
            seeded_torch_op(op.func, (view,), self.resolve(op.args), self.resolve(op.kwargs), self.key(st, op))
        else:
            try:
                if op.out == ():  # recorded from an out= call: the destination goes back as out=
                    op.func(*self.resolve(op.args), out=view, **self.resolve(op.kwargs))
                else:
                    op.func(view, *self.resolve(op.args), **self.resolve(op.kwargs))
            except Exception as e:
                raise DeferredInitError(f"materialize_: {name or st.name}: replaying Tensor.{op.name} failed: "
                                        f"{type(e).__name__}: {e}") from e

    # one module tensor
    def final(self, dest, ref, name):
        torch = _torch()
        st = ref.st
        upto = ref.version
        if is_dtensor(dest):
            return self.final_dtensor(dest, ref, name)
        same = (ref.whole() and dest.dtype == st.meta.dtype and tuple(dest.stride()) == ref.stride
                and dest.storage_offset() == 0 and dest.untyped_storage().nbytes() // dest.element_size() == st.nelem)
        if same:
            if self.poison:
                _poison(dest)
            base = torch.as_strided(dest.detach(), st.meta.size(), st.meta.stride(), st.meta.storage_offset())
            self.run(st, base, upto, name)
            self.memo[(id(st), upto)] = base
        else:
            full = self.state(st, upto)
            with torch.no_grad():
                dest.copy_(_view(full, ref))
        _bump(dest)

    def final_dtensor(self, dt, ref, name):
        torch = _torch()
        st = ref.st
        upto = ref.version
        local = local_tensor(dt)
        start = max([i for i in st.kills if i < upto], default=-1)
        ops = st.ops[max(start, 0):upto]
        eligible = ref.same_layout(st.meta) and (start >= 0 or st.root.kind in ("const", "fill")) and all(
            o.ref.same_layout(st.meta) and ((o.kind in ("const", "fill") and o.name not in _WHOLE_ONLY) or (
                o.kind == "call" and o.name in _ELEMENTWISE and not list(_refs_in((o.args, o.kwargs)))
                and not any(isinstance(a, (_Const, torch.Tensor)) for a in o.args))) for o in ops)
        if self.poison:
            _poison(local)
        with torch.no_grad():
            if eligible:
                steps = ops if start >= 0 else [st.root] + ops
                for o in steps:
                    if o.kind == "const":
                        local.fill_(o.value)
                    elif o.kind == "fill":
                        self.fill(st, o, dt)
                    else:
                        o.func(local, *o.args, **o.kwargs)
            else:
                # the whole tensor as a temporary, then this rank's part of it
                full = self.empty_root(st)
                self.run(st, full, upto, name)
                sub = _view(full, ref)
                segs = dtensor_segments(dt)
                if local.numel():
                    for d, ss in enumerate(segs):
                        idx = torch.cat([torch.arange(g, g + n, device=sub.device) for g, n in ss])
                        sub = sub.index_select(d, idx)
                    local.copy_(sub)
                del full
        _bump(dt)
        if local is not dt:
            _bump(local)




def _cpu_index(idx):
    torch = _torch()
    if isinstance(idx, tuple):
        return tuple(i.cpu() if isinstance(i, torch.Tensor) else i for i in idx)
    return idx


def _poison(t):
    torch = _torch()
    with torch.no_grad():
        if t.dtype.is_floating_point or t.dtype.is_complex:
            t.fill_(float("nan"))
        elif t.dtype == torch.bool:
            t.fill_(True)
        else:
            t.fill_(-1)


def _bump(t):
    torch = _torch()
    inc = getattr(torch._C, "_increment_version", None)
    if inc is not None:
        inc((t,))


def _allocate(t, device):
    """``torch.empty_like(t, device=device)`` without its Python reference for meta inputs
    (which imports sympy: half a second)."""
    torch = _torch()
    if is_dtensor(t):
        return torch.empty_like(t, device=device)
    if _dense(tuple(t.size()), tuple(t.stride()), t.numel()):
        return torch.empty_strided(t.size(), t.stride(), dtype=t.dtype, device=device)
    return torch.empty(t.size(), dtype=t.dtype, device=device)


def _set_tensor(module, qual, kind, value):
    mod, _, leaf = qual.rpartition(".")
    m = module.get_submodule(mod) if mod else module
    if kind == "param":
        m._parameters[leaf] = value
    elif kind == "buffer":
        m._buffers[leaf] = value
    else:
        m.__dict__[leaf] = value


def _get_tensor(module, qual, kind):
    mod, _, leaf = qual.rpartition(".")
    m = module.get_submodule(mod) if mod else module
    if kind == "param":
        return m._parameters[leaf]
    if kind == "buffer":
        return m._buffers[leaf]
    return m.__dict__[leaf]

