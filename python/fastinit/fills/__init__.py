"""The public fills: torch.nn.init's random family (standard), the constants (constant), the
structured inits (structured) and JAX's variance-scaling family (scaling).

Which functions are public is :mod:`fastinit.fills.registry`'s table (one entry per
function); this module exports exactly those, by name.
"""

from . import registry
from .registry import ENTRIES as _ENTRIES

globals().update({_e.name: _e.fn for _e in _ENTRIES})
__all__ = list(registry.names())
