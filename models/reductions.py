"""How one layer's output becomes one feature vector per sound: the reductions a model declares
for the activations it returns itself (:class:`models.contract.ActivationModel`).

The paper read its external models out in ways a forward hook plus a time mean cannot say
(docs/reference.md section 13): recurrent layers by their final hidden or cell state,
VGGish by averaging over its 0.96-s examples, frame-wise networks by averaging over the
frames folded into the batch. A :class:`Reduction` names one such step; :func:`reduce_layer`
is its functional twin. Every reduction ends in ``[batch, features]``: the axes after the
batch that remain are flattened in order (row-major, as ``Tensor.flatten(1)``).

    >>> x = torch.arange(24.0).reshape(2, 3, 4)        # [batch, time, dim]
    >>> time_mean(axis=1)(x).shape, final_step(axis=1)(x)[0].tolist()
    (torch.Size([2, 4]), [8.0, 9.0, 10.0, 11.0])
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["AS_IS", "KINDS", "Reduction", "example_mean", "final_step", "reduce_layer", "time_mean"]

KINDS = ("mean", "last", "none")


@dataclass(frozen=True)
class Reduction:
    """One declared reduction.

    Attributes:
        kind: ``"mean"`` (average over ``axis``), ``"last"`` (the last index along ``axis``:
            the final step of a recurrent layer's sequence of states) or ``"none"`` (the
            output as it is; only flattened).
        axis: the axis of the layer output reduced (counted with the batch as axis 0, so
            >= 1; negative counts from the end); None for ``"none"``.
        over: what ``axis`` holds, for messages and the cache key (``"time"``, ``"examples"``,
            ``"frames"`` ...).
    """

    kind: str
    axis: int | None = None
    over: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"Reduction kind must be one of {KINDS}, got {self.kind!r}")
        if self.kind == "none":
            if self.axis is not None:
                raise ValueError(f"Reduction 'none' takes no axis, got axis={self.axis}")
        elif not isinstance(self.axis, int) or isinstance(self.axis, bool) or self.axis == 0:
            raise ValueError(f"Reduction {self.kind!r} needs an axis other than the batch axis 0, got {self.axis!r}")

    def describe(self) -> str:
        """A stable text form, e.g. ``mean(axis=1, over=time)``; part of the activation cache key."""
        if self.kind == "none":
            return "none"
        return f"{self.kind}(axis={self.axis}" + (f", over={self.over})" if self.over else ")")

    def __call__(self, output: torch.Tensor, layer: str = "") -> torch.Tensor:
        return reduce_layer(output, self, layer)


def time_mean(axis: int = 1) -> Reduction:
    """Average over the time axis ``axis`` (``[batch, time, dim]`` -> ``[batch, dim]``)."""
    return Reduction("mean", axis, "time")


def example_mean(axis: int = 1) -> Reduction:
    """Average over the examples a clip was cut into (VGGish's 0.96-s examples, frames)."""
    return Reduction("mean", axis, "examples")


def final_step(axis: int = 1) -> Reduction:
    """The last step along ``axis`` (a recurrent layer's final state from its sequence output)."""
    return Reduction("last", axis, "time")


AS_IS = Reduction("none")


def reduce_layer(output: torch.Tensor, reduction: Reduction, layer: str = "") -> torch.Tensor:
    """Apply ``reduction`` to one layer's output ``[batch, ...]`` -> ``[batch, features]``.

    Raises:
        ValueError: the output has no batch axis or too few axes for ``reduction.axis``, or
            the reduced axis is empty (naming ``layer``).
    """
    where = f"layer {layer!r}" if layer else "layer output"
    if output.ndim < 1:
        raise ValueError(f"{where} is a scalar; expected [batch, ...]")
    if reduction.kind != "none":
        ndim = output.ndim
        axis = reduction.axis if reduction.axis > 0 else ndim + reduction.axis
        if not 1 <= axis < ndim:
            raise ValueError(
                f"{where} has shape {list(output.shape)}; its declared reduction {reduction.describe()} needs "
                f"axis {reduction.axis} after the batch axis"
            )
        if output.shape[axis] == 0:
            raise ValueError(f"{where} has shape {list(output.shape)}: the {reduction.over or 'reduced'} axis is empty")
        output = output.mean(dim=axis) if reduction.kind == "mean" else output.select(axis, -1)
    return output.reshape(output.shape[0], -1) if output.ndim != 2 else output
