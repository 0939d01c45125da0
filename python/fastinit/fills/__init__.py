"""The public fills: torch.nn.init's family (standard), the structured inits (structured)."""

from .constant import constant_, ones_, zeros_
from .scaling import lecun_normal_, lecun_uniform_, variance_scaling_
from .standard import (
    kaiming_normal_,
    kaiming_uniform_,
    normal_,
    trunc_normal_,
    uniform_,
    xavier_normal_,
    xavier_uniform_,
)
from .structured import dirac_, eye_, orthogonal_, sparse_
