"""The public fills: torch.nn.init's family (standard), the structured inits (structured)."""

from .standard import (
    constant_,
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    ones_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
    zeros_,
)
from .structured import dirac_, eye_, lecun_normal_, lecun_uniform_, orthogonal_, sparse_, variance_scaling_
