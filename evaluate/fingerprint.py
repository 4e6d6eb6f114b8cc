"""What decides a module's activations, as digests: the key of the activation caches.

A cached result may be served only when nothing that could change it has changed, so a
model's fingerprint covers

* ``class``: the model's qualified class name;
* ``source``: the code of every class in its module tree (the files defining them and the
  same-package modules those files import, hashed; installed third-party packages such
  as torch by their name and version instead);
* ``tensors``: every parameter and buffer, persistent or not (names, dtypes, shapes, values);
* ``attributes``: every other attribute of every submodule (constructor arguments kept on
  the module, front-end settings such as ``input_clamp`` or ``power``, normalisation flags,
  layer tables), encoded recursively;
* ``hooks``: the module must carry no forward (pre-)hooks, which could change its outputs.

Whatever cannot be encoded reliably (a lambda, an object without a stable description, a
registered hook, a class without source) raises :class:`Unkeyable` with the reason; callers
then do not cache.
"""

from __future__ import annotations

import dataclasses
import enum
import functools
import hashlib
import importlib.metadata
import inspect
import sys
import types
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch
from torch import nn

# Attributes every nn.Module has (parameters, buffers, submodules, hook tables, mode):
# covered by ``tensors`` / the tree walk, or irrelevant (``training``: extraction runs in eval).
_MODULE_INTERNALS = frozenset(vars(nn.Module()))
# Recurrent layers keep their parameters a second time, as (weak) references in a flat list
# for cuDNN: derived from the parameters the key already hashes, so left out of it.
_RNN_INTERNALS = frozenset({"_flat_weights", "_flat_weight_refs", "_flat_weights_names", "_all_weights"})
_MAX_DEPTH = 8
_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, functools.partial)


class Unkeyable(Exception):
    """Something that decides the activations has no reliable digest; do not cache."""


def array_digest(array: np.ndarray) -> str:
    """SHA-256 of an array's dtype, shape and bytes."""
    array = np.ascontiguousarray(array)
    return hashlib.sha256(f"{array.dtype}:{array.shape}".encode() + array.tobytes()).hexdigest()


def _tensor_bytes(t: torch.Tensor) -> bytes:
    t = t.detach().cpu().contiguous()
    return t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b""


def tensors_digest(model: nn.Module) -> str:
    """SHA-256 over every parameter and buffer of ``model`` (persistent or not): names,
    dtypes, shapes and values."""
    digest = hashlib.sha256()
    named = [("param", n, t) for n, t in model.named_parameters(remove_duplicate=False)]
    named += [("buffer", n, t) for n, t in model.named_buffers(remove_duplicate=False)]
    for kind, name, tensor in named:
        digest.update(f"{kind}:{name}:{tensor.dtype}:{list(tensor.shape)}".encode())
        digest.update(_tensor_bytes(tensor))
    return digest.hexdigest()


# ---------------------------------------------------------------------------- source
def _is_installed_package(path: Path) -> bool:
    return any(part in ("site-packages", "dist-packages") for part in path.parts)


@functools.lru_cache(maxsize=None)
def _distribution_version(top: str) -> str:
    names = importlib.metadata.packages_distributions().get(top, [])
    for name in names:
        try:
            return f"{name}=={importlib.metadata.version(name)}"
        except importlib.metadata.PackageNotFoundError:
            continue
    version = getattr(sys.modules.get(top), "__version__", None)
    if version is None:
        raise Unkeyable(f"installed package {top!r} has no version to key its code by")
    return f"{top}=={version}"


def code_digest(module_name: str) -> str:
    """The digest of one Python module's code: its file's bytes, or its package's version
    when it is an installed third-party package."""
    module = sys.modules.get(module_name)
    if module is None:
        raise Unkeyable(f"module {module_name!r} is not imported")
    file = getattr(module, "__file__", None)
    if file is None:
        if module_name in sys.builtin_module_names:
            return f"{module_name}:builtin"
        top = sys.modules.get(module_name.split(".")[0])
        top_file = getattr(top, "__file__", None)
        if top is not module and top_file and _is_installed_package(Path(top_file)):
            # an extension submodule of an installed package (torch._C._nn.gelu): its version decides it
            return _distribution_version(module_name.split(".")[0])
        raise Unkeyable(f"module {module_name!r} has no source file (defined interactively?)")
    path = Path(file)
    if _is_installed_package(path):
        return _distribution_version(module_name.split(".")[0])
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as exc:
        raise Unkeyable(f"source file {path} of module {module_name!r} is unreadable: {exc}") from exc


def _same_package_imports(module_name: str) -> set[str]:
    """Modules of the same top-level package that ``module_name``'s globals come from
    (helpers a forward pass may call: ``from models.cochleagram import _run_in_threads``)."""
    module = sys.modules.get(module_name)
    top = module_name.split(".")[0]
    found = set()
    for value in vars(module).values() if module is not None else ():
        name = value.__name__ if isinstance(value, types.ModuleType) else getattr(value, "__module__", None)
        if isinstance(name, str) and name.split(".")[0] == top and name in sys.modules:
            found.add(name)
    return found


def source_digest(classes: Iterable[type]) -> str:
    """Digest of the code behind ``classes`` and their base classes (below ``nn.Module``)."""
    modules: set[str] = set()
    for cls in classes:
        for base in cls.__mro__:
            if base in (nn.Module, object):
                continue
            if base.__module__ == "__main__" and getattr(sys.modules["__main__"], "__file__", None) is None:
                try:  # a notebook or an interactive session: the class's own source, if inspect finds it
                    modules.add(f"source:{hashlib.sha256(inspect.getsource(base).encode()).hexdigest()}")
                except (OSError, TypeError) as exc:
                    raise Unkeyable(f"class {base.__qualname__} has no source to key its forward pass by") from exc
                continue
            modules.add(base.__module__)
    for name in [m for m in modules if not m.startswith("source:")]:
        path = getattr(sys.modules.get(name), "__file__", None)
        if path is not None and not _is_installed_package(Path(path)):
            modules |= _same_package_imports(name)
    parts = sorted(m if m.startswith("source:") else f"{m}={code_digest(m)}" for m in modules)
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# ---------------------------------------------------------------------------- attributes
def _callable_key(fn: Callable, where: str) -> str:
    if isinstance(fn, functools.partial):
        return f"partial({_callable_key(fn.func, where)},{encode(fn.args, where)},{encode(fn.keywords, where)})"
    if isinstance(fn, types.MethodType):
        return f"method({encode(fn.__self__, where)}.{fn.__func__.__qualname__})"
    qualname = getattr(fn, "__qualname__", None)
    module = getattr(fn, "__module__", None)
    if not qualname or not module or "<lambda>" in qualname or "<locals>" in qualname:
        raise Unkeyable(f"{where} is a lambda or local function ({fn!r}), which has no stable description")
    return f"{module}.{qualname}@{code_digest(module)}"


def encode(value: object, where: str, depth: int = 0) -> str:
    """A canonical text for ``value`` (recursively); raises :class:`Unkeyable` when there is none."""
    if depth > _MAX_DEPTH:
        raise Unkeyable(f"{where} is nested too deeply to describe")
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, enum.Enum):
        return f"enum:{type(value).__qualname__}.{value.name}"
    if isinstance(value, (torch.dtype, torch.device, np.dtype)):
        return f"{type(value).__name__}:{value}"
    if isinstance(value, torch.Tensor):
        return f"tensor:{value.dtype}:{list(value.shape)}:{hashlib.sha256(_tensor_bytes(value)).hexdigest()}"
    if isinstance(value, np.ndarray):
        return f"ndarray:{array_digest(value)}"
    if isinstance(value, np.generic):
        return f"{type(value).__name__}:{value!r}"
    if isinstance(value, (list, tuple)):
        inner = ",".join(encode(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
        return f"{type(value).__name__}[{inner}]"
    if isinstance(value, (set, frozenset)):
        return f"set[{','.join(sorted(encode(v, f'{where}{{}}', depth + 1) for v in value))}]"
    if isinstance(value, dict):
        items = sorted(
            (encode(k, f"{where} key", depth + 1), encode(v, f"{where}[{k!r}]", depth + 1)) for k, v in value.items()
        )
        return "dict{" + ",".join(f"{k}:{v}" for k, v in items) + "}"
    if isinstance(value, nn.Module):  # a module held outside the registered tree
        return f"module:{module_fingerprint(value, where).digest}"
    if isinstance(value, type):
        return f"class:{value.__module__}.{value.__qualname__}@{source_digest([value])}"
    if isinstance(value, _FUNCTIONS):
        return f"callable:{_callable_key(value, where)}"
    if dataclasses.is_dataclass(value) or hasattr(value, "__dict__"):
        fields = vars(value) if hasattr(value, "__dict__") else dataclasses.asdict(value)
        cls = type(value)
        return f"object:{cls.__module__}.{cls.__qualname__}@{source_digest([cls])}:{encode(dict(fields), where, depth + 1)}"
    raise Unkeyable(f"{where} is a {type(value).__name__} ({value!r:.60}), which has no stable description")


# ---------------------------------------------------------------------------- the fingerprint
@dataclasses.dataclass(frozen=True)
class Fingerprint:
    """The named parts of a key (digests or descriptions) and their combined digest."""

    parts: dict[str, str]

    @property
    def digest(self) -> str:
        text = "|".join(f"{k}={v}" for k, v in sorted(self.parts.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    def extend(self, **parts: str) -> Fingerprint:
        return Fingerprint({**self.parts, **parts})

    def describe(self, width: int = 12) -> str:
        """``name=<short digest or value>`` pairs, for log lines."""
        return ", ".join(f"{k}={v if len(v) <= 64 and not _looks_like_digest(v) else v[:width]}"
                         for k, v in sorted(self.parts.items()))  # fmt: skip


def _looks_like_digest(text: str) -> bool:
    return len(text) == 64 and all(c in "0123456789abcdef" for c in text)


def module_fingerprint(model: nn.Module, where: str | None = None) -> Fingerprint:
    """Everything that decides ``model``'s outputs (see the module docstring).

    Raises :class:`Unkeyable` naming the submodule and attribute that cannot be described.
    """
    where = where or type(model).__name__
    attributes = hashlib.sha256()
    for name, module in model.named_modules(remove_duplicate=False):
        place = f"{where}.{name}" if name else where
        hooks = [h for key in ("_forward_hooks", "_forward_pre_hooks") for h in getattr(module, key, {}).values()]
        if hooks:
            raise Unkeyable(f"{place} carries forward hooks ({hooks[0]!r:.60}), which may change its outputs")
        for key, value in sorted(vars(module).items()):
            if key in _MODULE_INTERNALS or (key in _RNN_INTERNALS and isinstance(module, nn.RNNBase)):
                continue
            attributes.update(f"{name}.{key}={encode(value, f'{place}.{key}')}\n".encode())
    cls = type(model)
    return Fingerprint({
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "source": source_digest({type(m) for m in model.modules()}),
        "tensors": tensors_digest(model),
        "attributes": attributes.hexdigest(),
    })  # fmt: skip
