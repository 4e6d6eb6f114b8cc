"""Controls: the same network with its weights permuted, as the authors built it.

docs/reference.md section 10: ``torch.manual_seed(seed)`` once (seed 0 in the paper); then for
every state-dict entry of the network in state-dict order (weights, biases, BatchNorm
``running_mean``, ``running_var`` and ``num_batches_tracked`` alike), ``idx =
torch.randperm(n)`` with ``n`` the entry's element count, and the entry becomes
``w.view(-1)[idx].view(w.shape)``. Each tensor keeps its marginal distribution; what training
put where is destroyed. The fixed cochleagram front end holds no state-dict entries (its
filters are non-persistent buffers), so it is left alone, as the authors leave theirs.

A network loaded from a released checkpoint (:func:`models.load_reference_checkpoint`)
carries ``state_dict_order``, the order of the file's entries, which is the order the
authors' procedure walked; otherwise the module's own state-dict order is used.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn

CONTROLS = ("permuted",)


@torch.no_grad()
def permuted_copy(model: nn.Module, seed: int = 0, order: Sequence[str] | None = None) -> nn.Module:
    """A deep copy of ``model`` with every state-dict entry's elements shuffled (see the
    module docstring). ``order``: the entries' order for drawing the permutations (default:
    ``model.state_dict_order`` if set, else the state-dict order). The global torch RNG is
    seeded inside and restored afterwards, so the caller's random stream is unchanged."""
    out = copy.deepcopy(model)
    state = out.state_dict(keep_vars=True)
    order = list(order if order is not None else getattr(model, "state_dict_order", None) or state)
    if sorted(order) != sorted(state):
        missing = sorted(set(state) - set(order)) or sorted(set(order) - set(state))
        raise ValueError(f"order must list every state-dict entry of {type(model).__name__} once; e.g. {missing[0]!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for name in order:
            tensor = state[name]
            idx = torch.randperm(tensor.numel()).to(tensor.device)
            tensor.copy_(tensor.detach().reshape(-1)[idx].reshape(tensor.shape))
    return out


def control_model(model: nn.Module, control: str, seed: int = 0) -> nn.Module:
    """The control network named ``control`` (one of :data:`CONTROLS`)."""
    if control == "permuted":
        return permuted_copy(model, seed)
    raise ValueError(f"control must be one of {list(CONTROLS)}, got {control!r}")
