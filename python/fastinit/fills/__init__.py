"""The public fills: torch.nn.init's family (standard), the structured inits (structured).

Which functions are public is :mod:`fastinit.fills.registry`'s table (one entry per
function); this module exports exactly those, by name.
"""

from . import registry
from .registry import ENTRIES as _ENTRIES

globals().update({_e.name: _e.fn for _e in _ENTRIES})
__all__ = list(registry.names())
