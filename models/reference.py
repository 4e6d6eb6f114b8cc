"""The authors' released checkpoints, loaded into the project's own networks.

Tuckute, Feather et al. (2023) released their in-house models (CochCNN9 = "kell2018" and
CochResNet50 = "resnet50", single-head word models and multi-task ones) as files
``<...>/<uuid>/5_checkpoint.pt`` (docs/reference.md section 8). Each file is a
``torch.save(..., pickle_module=dill)`` dict with ``'model'`` (the state dict), ``'optimizer'``,
``'schedule'`` and ``'epoch'``. The state dict (keys optionally prefixed ``module.``) holds

* ``model.1.<network key>``: the network, with the project's own key names for the trunk
  (``batchnorm0``, ``conv0`` ... ``fullyconnected``; torchvision names for the ResNet) and
  heads ``classification.*`` (CochCNN9) / ``fc.*`` (ResNet): one 794-word head, or one per
  task ``signal/word_int`` (794), ``signal/speaker_int`` (433),
  ``noise/labels_binary_via_int`` (517) in the multi-task models;
* ``attacker.model.1.<network key>``: an exact copy (checked equal, dropped);
* ``model.0.full_rep.rep.*``: the cochleagram's fixed filters (ours are the same; checked
  where the shapes allow, dropped);
* ``preproc.normalize.new_mean`` / ``new_std`` (0 and 1) and their ``attacker.`` copies: the
  input normaliser, which clamps to [-1, 1] (our networks' ``cochleagram.input_clamp``).

:func:`load_reference_checkpoint` returns a :class:`models.CochCNN9` or
:class:`models.CochResNet50` with heads ``word``, ``speaker``, ``audioset`` as present, the
label names of the authors' training data attached (``net.vocabularies``), in eval mode.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import pickle
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import torch
from torch import nn

from data.cache import sha256_file
from models.cochcnn9 import CochCNN9
from models.cochleagram import Cochleagram
from models.cochresnet50 import CochResNet50

log = logging.getLogger(__name__)

# The authors' task names (their heads' keys) -> ours.
REFERENCE_TASKS = {"signal/word_int": "word", "signal/speaker_int": "speaker", "noise/labels_binary_via_int": "audioset"}
_NETWORK, _COPY = "model.1.", "attacker.model.1."
_FRONT_END, _NORMALISER = "model.0.", ("preproc.", "attacker.preproc.")
_HEAD_PREFIX = {"CochCNN9": "classification", "CochResNet50": "fc"}
_ARCHITECTURE_NAMES = {("CochCNN9", False): "kell2018", ("CochCNN9", True): "kell2018_multi_task",
                       ("CochResNet50", False): "resnet50", ("CochResNet50", True): "resnet_multi_task50"}  # fmt: skip


class ReferenceCheckpointError(ValueError):
    """A file is not a released checkpoint of a layout this loader knows (the message names
    the file, the key and what was expected)."""


@functools.lru_cache(maxsize=1)
def _vocabulary_file() -> dict:
    with resources.files("models").joinpath("resources/reference_vocabularies.json").open() as f:
        return json.load(f)


def reference_vocabularies() -> dict[str, list[str]]:
    """Label names by index of the released heads: ``word`` (794; index 0 ``__nullSignal__``),
    ``speaker`` (433), ``audioset`` (517 AudioSet class names; index 516 ``__nullNoise__``)."""
    data = _vocabulary_file()
    return {"word": list(data["word"]), "speaker": list(data["speaker"]),
            "audioset": [entry["name"] for entry in data["audioset"]]}  # fmt: skip


def reference_audioset_ids() -> list[str]:
    """The AudioSet ontology ids of the ``audioset`` head's 517 outputs (e.g. ``/m/011k_j``)."""
    return [entry["audioset_id"] for entry in _vocabulary_file()["audioset"]]


@dataclass
class ReferenceCheckpoint:
    """A released checkpoint, read and checked, in the project's key names.

    Attributes:
        path: the file.
        architecture: ``"CochCNN9"`` or ``"CochResNet50"``.
        multi_task: True for the authors' multi-task architecture (one head per task).
        width: channel multiplier (1.0 for every released model).
        heads: our head name -> number of classes, in the checkpoint's order.
        state: the network's state dict with our key names (``heads.<name>.*``), in the
            checkpoint's order (the order the authors' permuted control walks).
        epoch: the checkpoint's ``'epoch'`` entry, if any.
    """

    path: Path
    architecture: str
    multi_task: bool
    width: float
    heads: dict[str, int]
    state: dict[str, torch.Tensor] = field(repr=False)
    epoch: int | None = None

    @property
    def reference_name(self) -> str:
        """The authors' architecture name (``kell2018``, ``kell2018_multi_task``, ``resnet50``, ...)."""
        return _ARCHITECTURE_NAMES[(self.architecture, self.multi_task)]

    def build(self) -> nn.Module:
        """A freshly built network of this architecture (random weights), shaped for ``state``."""
        if self.architecture == "CochCNN9":
            return CochCNN9(self.heads, width=self.width)
        return CochResNet50(self.heads, width=self.width)


def _fail(path: Path, message: str) -> ReferenceCheckpointError:
    return ReferenceCheckpointError(f"{path}: {message}")


def load_checkpoint_file(path: Path, map_location: str | torch.device = "cpu") -> object:
    """``torch.load`` of a checkpoint file: weights-only first, then the full (dill) unpickler
    for files holding other objects; an unreadable file raises :class:`ReferenceCheckpointError`."""
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        if "weights_only" not in str(exc).lower() and "weights only" not in str(exc).lower():
            raise _fail(path, f"could not be read as a torch checkpoint ({exc}); is the file complete?") from exc
    except Exception as exc:  # noqa: BLE001  (truncated zip, not a torch file, ...)
        raise _fail(path, f"could not be read as a torch checkpoint ({type(exc).__name__}: {exc}); is the file "
                          "complete? Download it again with python -m evaluate.download checkpoints") from exc  # fmt: skip
    # The released files were written with pickle_module=dill; they may hold objects that the
    # restricted weights-only unpickler refuses. Only for a file the user chose to load.
    try:
        import dill
    except ImportError:  # pragma: no cover - dill is a dependency
        dill = pickle
    log.info("%s holds more than tensors; reading it with the full (dill) unpickler", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=False, pickle_module=dill)
    except Exception as exc:  # noqa: BLE001
        raise _fail(path, f"could not be unpickled ({type(exc).__name__}: {exc})") from exc


def _network_keys(path: Path, model_state: dict) -> dict[str, torch.Tensor]:
    """The ``model.1.`` entries of a released state dict, without prefixes, after checking the
    ``attacker.`` copy, the front end's filters and the input normaliser."""
    bad = [k for k, v in model_state.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise _fail(path, f"'model' must map key names to tensors; entry {bad[0]!r} is not a tensor")
    keys = list(model_state)
    if keys and all(k.startswith("module.") for k in keys):  # saved from DataParallel
        model_state = {k[len("module.") :]: v for k, v in model_state.items()}
    network = {k[len(_NETWORK) :]: v for k, v in model_state.items() if k.startswith(_NETWORK)}
    copy = {k[len(_COPY) :]: v for k, v in model_state.items() if k.startswith(_COPY)}
    if not network:
        raise _fail(path, f"no key starts with {_NETWORK!r} (the network inside the authors' wrapper); first keys: "
                          f"{list(model_state)[:4]}. Expected a released checkpoint (docs/reference.md section 8)")  # fmt: skip
    other = [k for k in model_state if not k.startswith((_NETWORK, _COPY, _FRONT_END, *_NORMALISER))
             and not k.startswith("attacker.model.0.")]  # fmt: skip
    if other:
        raise _fail(path, f"unexpected key {other[0]!r} (expected only model.0.*, model.1.*, attacker.* and preproc.*)")
    if copy:
        if set(copy) != set(network):
            key = sorted(set(copy) ^ set(network))[0]
            raise _fail(path, f"the attacker copy and the network differ in their keys (e.g. {key!r})")
        for key, value in network.items():
            if value.shape != copy[key].shape or not torch.equal(value, copy[key]):
                raise _fail(path, f"key {_COPY + key!r} differs from {_NETWORK + key!r}; expected an exact copy")
    for key in ("preproc.normalize.new_mean", "preproc.normalize.new_std"):
        if key in model_state:
            expected = 0.0 if key.endswith("mean") else 1.0
            values = model_state[key].float()
            if not torch.allclose(values, torch.full_like(values, expected)):
                raise _fail(path, f"key {key!r} is {values.flatten().tolist()[:3]}, expected {expected:g}: this "
                                  "loader reproduces the authors' identity normaliser (clamp to [-1, 1]) only")  # fmt: skip
    _check_front_end(path, model_state)
    return network


def _check_front_end(path: Path, model_state: dict) -> None:
    """The stored cochleagram filters must be ours (the network's inputs depend on them)."""
    filters = model_state.get("model.0.full_rep.rep.Cochleagram.compute_subbands.coch_filters")
    if filters is None or filters.dim() != 3 or filters.shape[-1] != 2:
        return
    ours = Cochleagram().filters
    if filters.shape[:2] != ours.shape:
        raise _fail(path, f"key 'model.0.full_rep.rep.Cochleagram.compute_subbands.coch_filters' has shape "
                          f"{list(filters.shape)}, expected [{ours.shape[0]}, {ours.shape[1]}, 2]: another "
                          "cochleagram than the 2-s 20-kHz one these networks take")  # fmt: skip
    stored = torch.linalg.vector_norm(filters.float(), dim=-1)  # read as (real, imaginary) pairs
    worst = float((stored - ours).abs().max())
    if worst > 1e-4:  # a warning: the stored format is not documented well enough to refuse on it
        log.warning("%s: the stored cochleagram filters ('model.0.full_rep.rep.Cochleagram.compute_subbands."
                    "coch_filters') differ from the project's by up to %.3g; if this checkpoint used another "
                    "front end, its activations here will not be the authors'", path, worst)  # fmt: skip


def _split_heads(path: Path, network: dict[str, torch.Tensor], architecture: str) -> tuple[dict, dict, bool]:
    """``(trunk state, {our head: {param: tensor}}, multi_task)`` with heads in checkpoint order."""
    prefix = _HEAD_PREFIX[architecture] + "."
    trunk = {k: v for k, v in network.items() if not k.startswith(prefix)}
    head_keys = [k for k in network if k.startswith(prefix)]
    if not head_keys:
        raise _fail(path, f"no {prefix}* keys: expected the classification head(s) of the authors' {architecture}")
    heads: dict[str, dict[str, torch.Tensor]] = {}
    multi_task = not all(k[len(prefix) :] in ("weight", "bias") for k in head_keys)
    for key in head_keys:
        rest = key[len(prefix) :]
        if multi_task:
            task, _, param = rest.rpartition(".")
            if task not in REFERENCE_TASKS:
                raise _fail(path, f"key {_NETWORK + key!r}: unknown task {task!r}; expected one of "
                                  f"{list(REFERENCE_TASKS)}")  # fmt: skip
            name = REFERENCE_TASKS[task]
        else:
            name, param = "word", rest
        if param not in ("weight", "bias"):
            raise _fail(path, f"key {_NETWORK + key!r}: expected a linear head's weight or bias")
        heads.setdefault(name, {})[param] = network[key]
    for name, params in heads.items():
        if "weight" not in params or params["weight"].dim() != 2:
            raise _fail(path, f"head {name!r} has no 2-D weight (keys under {prefix})")
    return trunk, heads, multi_task


def read_reference_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> ReferenceCheckpoint:
    """Read and check a released checkpoint; see the module docstring for the layout.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ReferenceCheckpointError: unreadable or truncated file, another layout, an unknown
            architecture or task, an attacker copy that differs, a shape mismatch.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such checkpoint file (the released models are <...>/<uuid>/"
                                "5_checkpoint.pt; python -m evaluate.download checkpoints fetches them)")  # fmt: skip
    return reference_from_dict(path, load_checkpoint_file(path, map_location))


def is_reference_layout(ckpt: object) -> bool:
    """Whether an unpickled checkpoint looks like one of the authors' released files."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        return False
    return any(isinstance(k, str) and k.removeprefix("module.").startswith(_NETWORK) for k in ckpt["model"])


def reference_from_dict(path: Path, ckpt: object) -> ReferenceCheckpoint:
    """:func:`read_reference_checkpoint` on a checkpoint already unpickled from ``path``."""
    if not isinstance(ckpt, dict) or not isinstance(ckpt.get("model"), dict):
        found = sorted(map(str, ckpt))[:6] if isinstance(ckpt, dict) else type(ckpt).__name__
        hint = (" It looks like a checkpoint written by python -m train: pass it as ckpt_path= instead."
                if isinstance(ckpt, dict) and "auditory_dnn" in ckpt else "")  # fmt: skip
        raise _fail(path, f"expected a dict with key 'model' (the state dict) as in the authors' released checkpoints; "
                          f"found {found}.{hint}")  # fmt: skip
    network = _network_keys(path, ckpt["model"])
    if "conv0.weight" in network and "fullyconnected.weight" in network:
        architecture, width = "CochCNN9", network["conv0.weight"].shape[0] / 96
    elif "conv1.weight" in network and "layer1.0.conv1.weight" in network:
        architecture, width = "CochResNet50", network["conv1.weight"].shape[0] / 64
    else:
        raise _fail(path, f"unknown architecture: expected key 'model.1.conv0.weight' (CochCNN9) or "
                          f"'model.1.layer1.0.conv1.weight' (ResNet-50); network keys: {list(network)[:5]}")  # fmt: skip
    trunk, heads, multi_task = _split_heads(path, network, architecture)
    state = dict(trunk)
    for name, params in heads.items():
        state.update({f"heads.{name}.{p}": t for p, t in params.items()})
    epoch = ckpt.get("epoch")
    return ReferenceCheckpoint(path=path, architecture=architecture, multi_task=multi_task, width=float(width),
                               heads={n: int(p["weight"].shape[0]) for n, p in heads.items()}, state=state,
                               epoch=int(epoch) if isinstance(epoch, int) else None)  # fmt: skip


def _reference_key(ref: ReferenceCheckpoint, key: str) -> str:
    """Our key -> the released file's key, for messages."""
    if key.startswith("heads."):
        _, name, param = key.split(".")
        task = {v: k for k, v in REFERENCE_TASKS.items()}[name] if ref.multi_task else None
        key = ".".join(p for p in (_HEAD_PREFIX[ref.architecture], task, param) if p)
    return _NETWORK + key


def load_into(net: nn.Module, ref: ReferenceCheckpoint) -> None:
    """Copy ``ref.state`` into ``net`` (built by ``ref.build()``); every key and shape must match."""
    expected = net.state_dict()
    missing = [k for k in expected if k not in ref.state]
    if missing:
        raise _fail(ref.path, f"key {_reference_key(ref, missing[0])!r} is missing; the {ref.architecture} of width "
                              f"{ref.width:g} has it with shape {list(expected[missing[0]].shape)}")  # fmt: skip
    extra = [k for k in ref.state if k not in expected]
    if extra:
        raise _fail(ref.path, f"key {_reference_key(ref, extra[0])!r} is not part of the authors' {ref.architecture} "
                              f"(expected keys like {_reference_key(ref, next(iter(expected)))!r})")  # fmt: skip
    for key, tensor in ref.state.items():
        if tuple(tensor.shape) != tuple(expected[key].shape):
            raise _fail(ref.path, f"key {_reference_key(ref, key)!r} has shape {list(tensor.shape)}, expected "
                                  f"{list(expected[key].shape)} for the authors' {ref.architecture}")  # fmt: skip
    net.load_state_dict(ref.state, strict=True)


def load_reference_checkpoint(path: str | os.PathLike, map_location: str | torch.device = "cpu") -> nn.Module:
    """A released checkpoint as the project's :class:`CochCNN9` / :class:`CochResNet50`, in eval mode.

    Heads ``word`` / ``speaker`` / ``audioset`` as the checkpoint has them (the multi-task
    files hold all three), label names in ``net.vocabularies`` (where a head's size matches
    the authors' vocabulary), ``net.identifier`` (``<architecture>-reference@<uuid folder>``)
    and ``net.provenance`` (file, SHA-256, the authors' architecture name, epoch).
    ``net.state_dict_order`` lists the state-dict keys in the file's order, which the authors'
    permuted control follows (:func:`evaluate.controls.control_model`).
    """
    ref = read_reference_checkpoint(path, map_location)
    torch_state = torch.random.get_rng_state()
    try:  # building draws random weights that are overwritten at once: leave the caller's RNG alone
        net = ref.build()
    finally:
        torch.random.set_rng_state(torch_state)
    load_into(net, ref)
    vocabularies = reference_vocabularies()
    net.vocabularies = {}
    for name, size in ref.heads.items():
        if len(vocabularies[name]) == size:
            net.vocabularies[name] = vocabularies[name]
        else:
            log.warning("%s: head %r has %d outputs, the authors' %s vocabulary %d; no label names attached",
                        ref.path, name, size, name, len(vocabularies[name]))  # fmt: skip
    net.state_dict_order = tuple(ref.state)
    net.identifier = f"{ref.architecture}-reference@{ref.path.parent.name or ref.path.stem}"
    net.provenance = {"path": str(ref.path.resolve()), "sha256": sha256_file(ref.path),
                      "architecture": ref.reference_name, "epoch": ref.epoch, "heads": dict(ref.heads)}  # fmt: skip
    log.info("Loaded %s (%s, heads %s) from %s", ref.reference_name, ref.architecture, ref.heads, ref.path)
    return net.to(map_location).eval()
