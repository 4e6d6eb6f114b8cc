"""Each clip's listening condition, decided in one place for every training DataModule.

A clip's condition is the window cut from its audio (a time-jitter crop in training, the
centred window otherwise), and in the noisy condition the background it is mixed with, where
that background's window starts and the SNR in dB (docs/reference.md section 4). The readers
(:mod:`data.datamodule`, :mod:`data.wsn`, :mod:`data.manifest`) only read audio and labels;
:class:`ConditionDraws` makes every one of these decisions, and :func:`background_heard` and
:func:`event_mask` say whether the background's event labels describe what is heard.

Where the draws come from:

* training: torch's global generator, drawn afresh every time an item is read. Lightning
  seeds it in each DataLoader worker (``seed_everything(workers=True)``), so a run is
  reproducible for a given seed and worker count, and every epoch continues the stream: a
  clip gets a new condition each epoch. The draws come in the order crop seed, background,
  background offset, SNR (each only where the source has it).
* validation: fixed per clip, drawn once from ``numpy.random.default_rng([seed, salt, s])``
  (``s`` 0 for the split named ``"train"``, 1 otherwise) in the order of the source's
  :class:`DrawScheme`; the same every epoch and every run with that seed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from data.mixing import SILENT_RMS

NOISE_CONDITIONS = ("clean", "noisy")
_FIXED_DRAWS = ("background", "offset", "snr")  # what a DrawScheme may draw per clip
_CROP_SEEDS = 2**62  # crop seeds are drawn uniformly from [0, 2**62)


@dataclass(frozen=True)
class ConditionOptions:
    """The data condition every training DataModule accepts (``conf/data/*.yaml``).

    Attributes:
        noise: ``"noisy"`` (speech mixed with a background at an SNR drawn uniformly from
            ``snr_db``) or ``"clean"`` (speech alone).
        snr_db: ``(low, high)`` in dB, ``low <= high``.
        jitter: in training, shift each clip's window at random as far as the labelled word
            still overlaps its centre (else the centred window, as in validation).
    """

    noise: str = "noisy"
    snr_db: tuple[float, float] = (-10.0, 10.0)
    jitter: bool = True

    def __post_init__(self) -> None:
        if self.noise not in NOISE_CONDITIONS:
            raise ValueError(f"data.noise must be one of {NOISE_CONDITIONS}, got {self.noise!r}")
        values = list(self.snr_db)
        if len(values) != 2 or not float(values[0]) <= float(values[1]):
            raise ValueError(f"data.snr_db must be [low, high] with low <= high, got {values}")
        object.__setattr__(self, "snr_db", (float(values[0]), float(values[1])))

    @property
    def noisy(self) -> bool:
        return self.noise == "noisy"


@dataclass(frozen=True)
class DrawScheme:
    """How one source's fixed (validation) draws are laid out, and what it draws.

    Attributes:
        salt: second word of the fixed draws' seed ``[seed, salt, split]``.
        fixed_order: the per-clip arrays drawn from that stream, in order: ``"snr"``, and
            ``"background"`` (an index into a pool of backgrounds; absent where each clip
            comes with its own) and ``"offset"`` (where the background window starts, as a
            fraction of a longer file).
    """

    salt: int
    fixed_order: tuple[str, ...]

    def __post_init__(self) -> None:
        order = self.fixed_order
        if "snr" not in order or len(set(order)) != len(order) or not set(order) <= set(_FIXED_DRAWS):
            raise ValueError(f"DrawScheme.fixed_order must hold 'snr' and optionally 'background', 'offset', got {order}")
        if "offset" in order and "background" not in order:
            raise ValueError(f"DrawScheme.fixed_order: an 'offset' needs a 'background' to cut it from, got {order}")

    @property
    def chooses_background(self) -> bool:
        return "background" in self.fixed_order

    @property
    def draws_offset(self) -> bool:
        return "offset" in self.fixed_order


# One scheme per source. The salts and orders differ only because each reader was written
# with its own; they are kept so that every validation clip keeps the SNR, background and
# window earlier runs were validated on (one shared derivation would change all of them).
EMBEDDED_DRAWS = DrawScheme(salt=5, fixed_order=("background", "snr"))  # a pool of rendered 2-s backgrounds
WSN_DRAWS = DrawScheme(salt=17, fixed_order=("snr",))  # each clip is stored with its own background
MANIFEST_DRAWS = DrawScheme(salt=23, fixed_order=("snr", "background", "offset"))  # a folder of files of any length


@dataclass(frozen=True)
class Mixture:
    """The noisy part of a clip's condition.

    Attributes:
        background: index into the source's backgrounds; None where the clip has its own.
        offset: where the background window starts, as a fraction of the file; None where
            the source's backgrounds are exactly one window long or paired with the clip.
        snr_db: speech-to-background ratio in dB.
    """

    background: int | None
    offset: float | None
    snr_db: float


@dataclass(frozen=True)
class Condition:
    """One clip's condition: its window (``crop_seed``) and, when noisy, its ``mixture``.

    Attributes:
        crop_seed: seed of the jitter crop's generator; None: the centred window.
        mixture: None in the clean condition.
    """

    crop_seed: int | None
    mixture: Mixture | None


class ConditionDraws:
    """The conditions of one split's ``n_clips`` clips (see the module docstring for the RNGs).

    Args:
        options: the data condition.
        scheme: the source's :class:`DrawScheme`.
        n_clips: clips in the split (indices ``0 .. n_clips - 1``).
        split: the split's name; ``"train"`` and the others draw different fixed streams.
        train: draw afresh per read (training) or fixed per clip (validation).
        seed: seed of the fixed draws.
        n_backgrounds: size of the background pool (needed when noisy and the scheme
            chooses a background).
    """

    def __init__(
        self,
        options: ConditionOptions,
        scheme: DrawScheme,
        n_clips: int,
        split: str,
        train: bool,
        seed: int = 0,
        n_backgrounds: int | None = None,
    ) -> None:
        self.options, self.scheme, self.train = options, scheme, train
        self.n_backgrounds = n_backgrounds
        if options.noisy and scheme.chooses_background and (n_backgrounds is None or n_backgrounds < 1):
            raise ValueError(f"{split}: the noisy condition needs at least one background, got n_backgrounds={n_backgrounds}")
        self.random_crop = options.jitter and train
        self.fixed: dict[str, np.ndarray] = {}
        if options.noisy and not train:
            low, high = options.snr_db
            rng = np.random.default_rng([seed, scheme.salt, 0 if split == "train" else 1])
            for name in scheme.fixed_order:
                if name == "snr":
                    self.fixed[name] = rng.uniform(low, high, size=n_clips).astype(np.float32)
                elif name == "background":
                    self.fixed[name] = rng.integers(n_backgrounds, size=n_clips)
                else:
                    self.fixed[name] = rng.random(n_clips)

    def crop_seed(self, i: int) -> int | None:
        """Clip ``i``'s crop seed: drawn (training with jitter) or None (the centred window)."""
        return int(torch.randint(_CROP_SEEDS, ()).item()) if self.random_crop else None

    def mixture(self, i: int) -> Mixture | None:
        """Clip ``i``'s background and SNR; None in the clean condition (nothing drawn)."""
        if not self.options.noisy:
            return None
        scheme = self.scheme
        if self.train:
            background = int(torch.randint(self.n_backgrounds, ()).item()) if scheme.chooses_background else None
            offset = float(torch.rand(()).item()) if scheme.draws_offset else None
            low, high = self.options.snr_db
            return Mixture(background, offset, low + (high - low) * float(torch.rand(()).item()))
        background = int(self.fixed["background"][i]) if scheme.chooses_background else None
        offset = float(self.fixed["offset"][i]) if scheme.draws_offset else None
        return Mixture(background, offset, float(self.fixed["snr"][i]))

    def draw(self, i: int) -> Condition:
        """Clip ``i``'s whole condition (crop seed first, then the mixture)."""
        return Condition(self.crop_seed(i), self.mixture(i))


def jitter_crop(
    audio: np.ndarray,
    length: int,
    target: tuple[int, int] | None,
    crop_seed: int | None,
    dtype: np.dtype | type = np.float32,
) -> np.ndarray:
    """A ``length``-sample window of ``audio`` ``[samples]`` (zero-padded where it runs past
    the ends), as ``dtype`` (``np.int16`` keeps stored int16 audio compact until it reaches
    the device).

    Without ``crop_seed`` (:attr:`Condition.crop_seed`) the window is centred on ``target``
    (start, end samples of the labelled word) or on the clip. With it the window is shifted at
    random as far as the word still overlaps the window's centre (the reference's time-jitter
    crop); the same seed gives the same shift, so a clip's speech and its paired background
    share one window.
    """
    n = len(audio)
    mid = (target[0] + target[1]) // 2 if target is not None else n // 2
    start = mid - length // 2
    if crop_seed is not None:
        lo, hi = (target[0], target[1]) if target is not None else (mid, mid + 1)
        # The centre sample (start + length // 2) must land inside [lo, hi).
        start = int(np.random.default_rng(crop_seed).integers(lo, max(hi, lo + 1))) - length // 2
    out = np.zeros(length, dtype=dtype)
    src0, src1 = max(start, 0), min(start + length, n)
    if src1 > src0:
        out[src0 - start : src1 - start] = audio[src0:src1]
    return out


def background_heard(window: np.ndarray, scale: float = 1.0) -> bool:
    """Whether a background window ``[samples]`` (times ``scale``, for int16 audio) is heard.

    A window whose RMS about its mean is below :data:`data.mixing.SILENT_RMS` is mixed as
    speech alone (an "infinite SNR" clip, kept as in the reference data), so its events are
    not in the clip.
    """
    return float(np.std(np.asarray(window, dtype=np.float64))) * scale >= SILENT_RMS


def event_mask(heard: Sequence[np.ndarray | None]) -> torch.Tensor:
    """``audioset_mask`` of a clip from the event labels of the sources heard in it (None
    where a source's events are unknown): 1 when at least one source is heard and all of
    their events are known, else 0 (float32 scalar)."""
    valid = len(heard) > 0 and all(events is not None for events in heard)
    return torch.tensor(1.0 if valid else 0.0)


def clean_item(item: dict, n_event_classes: int) -> dict:
    """Make ``item`` a clean-speech item: zero background like its ``speech``, ``snr_db``
    +inf, ``audioset`` zeros ``[n_event_classes]`` with mask 0."""
    item["background"] = torch.zeros(item["speech"].shape, dtype=torch.float32)
    item["snr_db"] = torch.tensor(math.inf)
    item["audioset"] = torch.zeros(n_event_classes, dtype=torch.float32)
    item["audioset_mask"] = torch.tensor(0.0)
    return item
