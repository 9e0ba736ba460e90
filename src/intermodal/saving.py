"""Save and load models as a directory with ``config.json`` and ``model.safetensors`` (no pickle).

A model can be saved when it and every module passed to its constructor are classes registered
with :func:`register_module`. Registration records the constructor arguments of each instance, so
``load_model`` rebuilds the same architecture from ``config.json`` and then loads the weights.
Loading only ever instantiates registered classes, checks ``config.json`` against their
constructors' signatures before calling them, and checks the weights against the SHA-256 that
``config.json`` records.

A model that reads raw data is saved as a :class:`~intermodal.models.Pipeline`: its
``config.json`` holds the schema of the training data (modalities, kinds, feature names, class
labels, target columns) and each modality's preprocessing step, and ``model.safetensors`` holds
the steps' statistics (``preprocessor.steps.MODALITY.mean``, ``.std``) beside the weights
(``model.*``), under the same checksum.

Format versions: 1 has no checksum (still loaded, with a warning); 2 adds ``weights_sha256``;
3 keeps the preprocessing (a ``Pipeline``). A model of version 1 or 2, or one saved without its
preprocessing, loads with a :class:`PreprocessingWarning`: its inputs must be preprocessed as in
training.
"""

from __future__ import annotations

import collections.abc
import functools
import hashlib
import importlib
import inspect
import json
import os
import re
import types
import typing
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from intermodal._io import check_writable, write_directory_atomic
from intermodal.errors import UnknownNameError

FORMAT = "intermodal-model"
FORMAT_VERSION = 3
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
CHECKSUM_FIELD = "weights_sha256"
MAX_DEPTH = 100
"""The deepest nesting of lists and objects that ``config.json`` may hold."""

_MODULES: dict[str, type[nn.Module]] = {}
_SIGNATURES: dict[str, inspect.Signature] = {}
_CONSTRUCTORS: dict[str, Any] = {}
_RESAVE = "the file was edited or damaged: save the model again"
_MISSING = object()
# Arguments that hold sizes (input_dim, hidden_dims, in_channels, num_heads ...): never negative.
_SIZE_NAME = re.compile(r"_dims?$|^dims?_|channels$|^num_")
M = TypeVar("M", bound=type[nn.Module])


class CorruptModelError(ValueError):
    """A saved model whose files are damaged, edited by hand or do not belong together."""


class PreprocessingWarning(UserWarning):
    """A loaded model that does not carry its preprocessing: it reads inputs preprocessed as in
    training (standardized with the training split's statistics), not raw data."""


def register_module(cls: M) -> M:
    """Class decorator: record constructor arguments so instances can be saved and rebuilt."""
    name = cls.__name__
    if _MODULES.get(name, cls) is not cls:
        raise ValueError(f"another module class named {name!r} is already registered")
    signature = inspect.signature(cls.__init__)
    original = cls.__init__

    @functools.wraps(original)
    def __init__(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        bound = signature.bind(self, *args, **kwargs)
        bound.apply_defaults()
        config = {k: v for k, v in bound.arguments.items() if k != "self"}
        for param in signature.parameters.values():
            if param.kind is param.VAR_KEYWORD:
                config.update(config.pop(param.name, {}))
            elif param.kind is param.VAR_POSITIONAL and config.pop(param.name, ()):
                raise TypeError(f"{name} was given positional *args, which cannot be saved")
        original(self, *args, **kwargs)
        if type(self) is cls:
            self.__dict__["_intermodal_config"] = config

    cls.__init__ = __init__  # type: ignore[method-assign]
    _MODULES[name] = cls
    _SIGNATURES[name] = signature
    _CONSTRUCTORS[name] = original
    _argument_types.cache_clear()
    return cls


def module_config(module: nn.Module) -> dict[str, Any]:
    """The JSON description ``{"class": ..., "config": ...}`` that rebuilds ``module``."""
    name = type(module).__name__
    config = getattr(module, "_intermodal_config", None)
    if config is None or _MODULES.get(name) is not type(module):
        raise TypeError(
            f"cannot save a {name}: only modules of classes decorated with "
            "intermodal.register_module can be saved"
        )
    return {"class": name, "config": {k: _encode(v, f"{name}.{k}") for k, v in config.items()}}


def record_arguments(module: nn.Module, **arguments: Any) -> None:
    """Change constructor arguments that ``save_model`` records for ``module``: for a module
    whose sizes are known only once it is fitted (the model text of a tree ensemble), so that
    ``load_model`` builds its buffers at the fitted sizes before loading them."""
    name = type(module).__name__
    config = getattr(module, "_intermodal_config", None)
    if config is None or _MODULES.get(name) is not type(module):
        raise TypeError(f"{name} is not a registered module (see register_module)")
    unknown = sorted(set(arguments) - set(list(_SIGNATURES[name].parameters)[1:]))
    if unknown:
        raise TypeError(f"{unknown} are not arguments of {name}")
    config.update(arguments)


def _encode(value: Any, where: str) -> Any:
    if isinstance(value, nn.Module):
        return {"__module__": module_config(value)}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, Mapping) and all(isinstance(k, str) for k in value):
        return {k: _encode(v, f"{where}.{k}") for k, v in value.items()}
    raise TypeError(f"cannot save {where}: a {type(value).__name__} is not JSON-serializable")


def _show(value: Any) -> str:
    """``value`` and its JSON type for a message, shortened."""
    if value is _MISSING:
        return "nothing (the field is missing)"
    kind = {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), "null" if value is None else "a number"
    )
    text = repr(value)
    return f"{kind} {text[:40]}{'...' if len(text) > 40 else ''}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_depth(document: Any, source: str) -> None:
    """Refuse lists and objects nested deeper than ``MAX_DEPTH`` (walked without recursion)."""
    stack = [(document, "", 0)]
    while stack:
        value, where, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise CorruptModelError(
                f"{source} nests lists or objects more than {MAX_DEPTH} levels deep (at field "
                f"{where[:80]}...); a saved model's config is never that deep: {_RESAVE}"
            )
        if isinstance(value, dict):
            stack.extend((v, f"{where}.{k}" if where else k, depth + 1) for k, v in value.items())
        elif isinstance(value, list):
            stack.extend((v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))


@functools.cache
def _argument_types(name: str) -> dict[str, Any]:
    """The evaluated annotations of a registered class's constructor; empty when they cannot be
    evaluated (then only the argument names are checked)."""
    try:
        signature = inspect.signature(_CONSTRUCTORS[name], eval_str=True)
    except (NameError, AttributeError, SyntaxError, TypeError):
        return {}
    return {p.name: p.annotation for p in signature.parameters.values()}


def _mismatch(value: Any, hint: Any, where: str, size: bool) -> str | None:
    """Why ``value`` (decoded from JSON) does not fit the annotation ``hint``, or None when it
    does. Annotations other than JSON types, modules and containers of them are not checked."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        problems = [_mismatch(value, arg, where, size) for arg in args]
        if all(problems):
            if value is not None and type(None) in args:
                return next(p for p, a in zip(problems, args, strict=True) if a is not type(None))
            return f"{where} must be {' or '.join(map(_describe, args))}, got {_show(value)}"
        return None
    if origin is typing.Literal:
        return None if value in args else f"{where} must be one of {list(args)}, got {_show(value)}"
    if origin in (list, tuple, collections.abc.Sequence, collections.abc.MutableSequence):
        if not isinstance(value, list | tuple):
            return f"{where} must be a list, got {_show(value)}"
        if not args:
            return None
        items: Any = args[:1] * len(value) if len(args) == 1 or args[1:] == (...,) else args
        if len(items) != len(value):
            return f"{where} must be a list of {len(items)} items, got {_show(value)}"
        for i, (item, item_hint) in enumerate(zip(value, items, strict=True)):
            if problem := _mismatch(item, item_hint, f"{where}[{i}]", size):
                return problem
        return None
    if origin in (dict, collections.abc.Mapping, collections.abc.MutableMapping):
        if not isinstance(value, Mapping):
            return f"{where} must be an object, got {_show(value)}"
        for key, item in value.items():
            if args and (problem := _mismatch(item, args[1], f"{where}.{key}", size)):
                return problem
        return None
    if hint is type(None):
        return None if value is None else f"{where} must be null, got {_show(value)}"
    if hint in (int, float):
        if not isinstance(value, int | float) or (hint is int and not isinstance(value, int)):
            return f"{where} must be {_describe(hint)}, got {_show(value)}"
        if size and value < 0:
            return f"{where} is a size and cannot be negative, got {value}"
        return None
    if hint in (bool, str):
        return (
            None
            if isinstance(value, hint)
            else f"{where} must be {_describe(hint)}, got {_show(value)}"
        )
    if isinstance(hint, type) and issubclass(hint, nn.Module) and not isinstance(value, hint):
        return (
            f'{where} must be a module {{"__module__": {{"class": ..., "config": ...}}}}, '
            f"got {_show(value)}"
        )
    return None


def _describe(hint: Any) -> str:
    names = {int: "an integer", float: "a number", bool: "a boolean", str: "a string"}
    if hint is type(None):
        return "null"
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _check_arguments(name: str, arguments: Mapping[str, Any], where: str, source: str) -> None:
    """Check a module's decoded ``config`` against its class's constructor before calling it."""
    parameters = list(_SIGNATURES[name].parameters.values())[1:]
    named = {p.name: p for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if not any(p.kind is p.VAR_KEYWORD for p in parameters):
        for key in arguments:
            if key not in named:
                raise CorruptModelError(
                    f"{source}: field {where}.{key} is not an argument of {name} (its arguments: "
                    f"{', '.join(named)}); {_RESAVE}"
                )
    missing = [k for k, p in named.items() if p.default is p.empty and k not in arguments]
    if missing:
        raise CorruptModelError(
            f"{source}: field {where} lacks {', '.join(missing)}, required by {name}; {_RESAVE}"
        )
    hints = _argument_types(name)
    for key, value in arguments.items():
        hint = hints.get(key, inspect.Parameter.empty)
        if problem := _mismatch(value, hint, f"{where}.{key}", bool(_SIZE_NAME.search(key))):
            raise CorruptModelError(f"{source}: field {problem} ({name} argument); {_RESAVE}")


def _decode(value: Any, where: str, source: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, f"{where}[{i}]", source) for i, v in enumerate(value)]
    if isinstance(value, dict):
        if set(value) == {"__module__"}:
            return _build(value["__module__"], f"{where}.__module__", source)
        return {k: _decode(v, f"{where}.{k}", source) for k, v in value.items()}
    return value


BUILTIN_PACKAGES = (
    "intermodal.baselines",
    "intermodal.data.preprocessing",
    "intermodal.encoders",
    "intermodal.fusion",
    "intermodal.coordination",
    "intermodal.fission",
    "intermodal.models",
)
"""The packages whose modules ``load_model`` can rebuild without being imported first."""


def _import_builtin_modules() -> None:
    """Register intermodal's own module classes (importing their packages)."""
    for package in BUILTIN_PACKAGES:
        importlib.import_module(package)


def _build(description: Any, where: str, source: str) -> nn.Module:
    if not isinstance(description, Mapping):
        raise CorruptModelError(
            f'{source}: field {where} must be an object {{"class": ..., "config": ...}}, got '
            f"{_show(description)}; {_RESAVE}"
        )
    name = description.get("class", _MISSING)
    if not isinstance(name, str):
        raise CorruptModelError(
            f"{source}: field {where}.class must be a class name (a string), got {_show(name)}; "
            f"{_RESAVE}"
        )
    if name not in _MODULES:
        _import_builtin_modules()
    if name not in _MODULES:
        raise ValueError(
            f"{source}: field {where}.class names an unknown module class {name!r}; known: "
            f"{sorted(_MODULES)} (import the package that registers it before loading)"
        )
    config = description.get("config", {})
    if not isinstance(config, Mapping):
        raise CorruptModelError(
            f"{source}: field {where}.config must be an object, got {_show(config)}; {_RESAVE}"
        )
    arguments = {k: _decode(v, f"{where}.config.{k}", source) for k, v in config.items()}
    _check_arguments(name, arguments, f"{where}.config", source)
    try:
        return _MODULES[name](**arguments)
    except (TypeError, ValueError, RuntimeError, UnknownNameError) as error:
        raise CorruptModelError(
            f"{source}: {name} cannot be built from field {where}: {_first_line(error)}"
        ) from error


def build_module(description: Mapping[str, Any]) -> nn.Module:
    """Rebuild a module (untrained) from ``module_config``'s description.

    Raises:
        ValueError: the description names an unknown class, does not fit its constructor's
            arguments, or nests more than ``MAX_DEPTH`` levels.
    """
    _check_depth(description, "the module description")
    return _build(description, "model", CONFIG_FILE)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_target(directory: Path, overwrite: bool) -> None:
    """Refuse to save where saving would delete anything that ``save_model`` did not write."""
    if not directory.exists():
        return
    if not directory.is_dir():
        raise FileExistsError(f"{directory} exists and is not a directory; choose another path")
    if not overwrite:
        return  # write_directory_atomic refuses a directory that is not empty
    foreign = sorted(
        p.name for p in directory.iterdir() if p.name not in (CONFIG_FILE, WEIGHTS_FILE)
    )
    if foreign:
        shown = ", ".join(foreign[:5]) + (
            f" and {len(foreign) - 5} more" if len(foreign) > 5 else ""
        )
        raise FileExistsError(
            f"{directory} holds files that save_model did not write ({shown}); overwriting "
            "replaces the whole directory and would delete them: move them away or choose "
            "another directory"
        )
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if (directory / name).exists() and not _written_by_save_model(directory / name):
            raise FileExistsError(
                f"{directory / name} was not written by save_model (another library's "
                "model?); overwriting would delete it: move it away or choose another directory"
            )


def check_save_target(
    directory: str | os.PathLike[str], overwrite: bool = False, hint: str = ""
) -> None:
    """Check, changing nothing, that :func:`save_model` can write ``directory`` (before any
    training): it is new, empty, or (with ``overwrite``) holds only a saved model; ``hint``
    (what to do) ends the message.

    Raises:
        FileExistsError: it holds a model and not ``overwrite``, or files ``save_model`` did
            not write.
        OSError: it cannot be created or written.
    """
    path = Path(directory)
    _check_target(path, overwrite)
    if path.is_dir() and any(path.iterdir()) and not overwrite:
        raise FileExistsError(f"{path} exists and is not empty{hint or '; choose another path'}")
    check_writable(path, "model folder", hint)


def _written_by_save_model(path: Path) -> bool:
    """False when ``path`` is readable and marked as another format; a damaged file counts as
    written by ``save_model`` (overwriting it is the repair)."""
    try:
        if path.name == CONFIG_FILE:
            document = json.loads(path.read_text(encoding="utf-8"))
            return not isinstance(document, dict) or document.get("format") == FORMAT
        with safe_open(str(path), "pt") as weights:
            return (weights.metadata() or {}).get("format") == FORMAT
    except (ValueError, RecursionError, OSError, SafetensorError):
        return True


def save_model(
    model: nn.Module,
    directory: str | os.PathLike[str],
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save ``model`` as ``directory/config.json`` + ``directory/model.safetensors``, atomically.

    ``config.json`` records the SHA-256 of ``model.safetensors``; ``load_model`` checks it.

    Args:
        model: a module of a registered class (see :func:`register_module`).
        directory: the target directory; it must not exist or be empty unless ``overwrite``.
        metadata: optional JSON-serializable facts to keep beside the config (metrics, data set).
        overwrite: replace a model saved in ``directory`` before. A directory that holds other
            files is never overwritten.

    Raises:
        FileExistsError: ``directory`` is not empty and ``overwrite`` is False, or it holds files
            that ``save_model`` did not write.
    """
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        CHECKSUM_FIELD: "",
        "model": module_config(model),
        "metadata": _encode(dict(metadata or {}), "metadata"),
    }
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}
    _check_target(Path(directory), overwrite)

    def write(path: Path) -> None:
        save_file(tensors, str(path / WEIGHTS_FILE), metadata={"format": FORMAT})
        config[CHECKSUM_FIELD] = _sha256(path / WEIGHTS_FILE)
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")

    write_directory_atomic(Path(directory), write, overwrite)
    return Path(directory)


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model: its format, version, the types of its
    top-level fields and its nesting depth (a module's arguments are checked when it is built)."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {directory} is not a saved intermodal model")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise CorruptModelError(
            f"{path} nests lists or objects too deeply to be a model config; {_RESAVE}"
        ) from None
    except ValueError as error:  # not JSON, not UTF-8, an integer too long to read
        raise CorruptModelError(
            f"{path} is corrupt or truncated ({_first_line(error)}); save the model again"
        ) from None
    _check_depth(config, str(path))
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise CorruptModelError(
            f"{path} is not an intermodal model config (field 'format' is not {FORMAT!r})"
        )
    version = config.get("format_version", _MISSING)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise CorruptModelError(
            f"{path}: field format_version must be a positive integer, got {_show(version)}; "
            f"{_RESAVE}"
        )
    if version > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer intermodal; upgrade to load it")
    model = config.get("model", _MISSING)
    if not isinstance(model, dict):
        raise CorruptModelError(
            f'{path}: field model must be an object {{"class": ..., "config": ...}}, got '
            f"{_show(model)}; {_RESAVE}"
        )
    if not isinstance(config.get("metadata", {}), dict):
        raise CorruptModelError(
            f"{path}: field metadata must be an object, got {_show(config['metadata'])}; {_RESAVE}"
        )
    checksum = config.get(CHECKSUM_FIELD, None if version < 2 else _MISSING)
    if checksum is not None and not (
        isinstance(checksum, str) and re.fullmatch(r"[0-9a-f]{64}", checksum)
    ):
        raise CorruptModelError(
            f"{path}: field {CHECKSUM_FIELD} must be a SHA-256 of 64 hex digits, got "
            f"{_show(checksum)}; {_RESAVE}"
        )
    return config


def _device(map_location: str | torch.device) -> torch.device:
    """``map_location`` as a device that this machine has."""
    try:
        device = torch.device(map_location)
    except (RuntimeError, TypeError):
        raise ValueError(
            f"unknown device {map_location!r} for map_location; use 'cpu', 'cuda', 'cuda:N' "
            "(N-th GPU) or 'mps'"
        ) from None
    if device.type == "cpu":
        return device
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"map_location={map_location!r} but no CUDA device is available on this "
                "machine; use map_location='cpu'"
            )
        count = torch.cuda.device_count()
        if device.index is not None and device.index >= count:
            raise ValueError(
                f"map_location={map_location!r} but this machine has {count} CUDA device(s): "
                f"use 'cuda:0' to 'cuda:{count - 1}', or 'cpu'"
            )
        return device
    backend = torch.backends.mps if device.type == "mps" else getattr(torch, device.type, None)
    available = getattr(backend, "is_available", None)
    if available is None:
        raise ValueError(
            f"cannot load a model onto device type {device.type!r}; load it with "
            "map_location='cpu' and move it with model.to(device)"
        )
    if not available():
        raise ValueError(
            f"map_location={map_location!r} but no {device.type} device is available on this "
            "machine; use map_location='cpu'"
        )
    return device


def load_model(
    directory: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> nn.Module:
    """Rebuild a model saved with :func:`save_model` and load its weights (no pickle).

    The model is returned in evaluation mode (dropout off, batch-norm statistics frozen); call
    ``.train()`` to train it further.

    Raises:
        FileNotFoundError: ``directory`` holds no saved model.
        ValueError: ``map_location`` is unknown or not available on this machine; a file is
            corrupt, edited by hand, or the weights do not match ``config.json``
            (:class:`CorruptModelError`).
    """
    device = _device(map_location)
    config = read_config(directory)
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the saved model has no weights")
    expected_sha = config.get(CHECKSUM_FIELD)
    if expected_sha is None:
        warnings.warn(
            f"{Path(directory)} was saved without a checksum (format version 1), so damage to "
            "its weights cannot be detected; save it again to add one",
            stacklevel=2,
        )
    elif (actual := _sha256(path)) != expected_sha:
        raise CorruptModelError(
            f"{path} is corrupt: checksum mismatch (SHA-256 {actual[:16]}..., {CONFIG_FILE} "
            f"records {expected_sha[:16]}...); the file was damaged or replaced: re-save or "
            "re-train the model"
        )
    model = _build(config["model"], "model", str(Path(directory) / CONFIG_FILE))
    try:
        tensors = load_file(str(path), device="cpu")
    except (SafetensorError, OSError) as error:
        raise CorruptModelError(
            f"{path} is corrupt or truncated ({error}); save the model again"
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        raise CorruptModelError(
            f"{path} does not match config.json: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {wrong[:5]}; the two files come from different models"
        )
    model.load_state_dict(tensors)
    _warn_without_preprocessing(model, Path(directory), config["format_version"])
    return model.to(device).eval()


def _warn_without_preprocessing(model: nn.Module, directory: Path, version: int) -> None:
    from intermodal.models.protocols import PreparesData

    if isinstance(model, PreparesData):
        return
    if version < 3:
        why = (
            f"was saved by an earlier intermodal (format version {version}), which did not keep "
            "the preprocessing"
        )
    else:
        why = "was saved without its preprocessing (not as a Pipeline)"
    warnings.warn(
        f"{directory} {why}: its inputs must be standardized as in training (a Standardizer "
        "fitted on the training split, as intermodal bench does), and their features are taken "
        "by position; train it again (intermodal train, or fit with preprocess=True) to get a "
        "model that predicts on raw data",
        PreprocessingWarning,
        stacklevel=3,
    )


def model_metadata(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata stored with a saved model."""
    return dict(read_config(directory).get("metadata", {}))


__all__ = [
    "CorruptModelError",
    "PreprocessingWarning",
    "build_module",
    "check_save_target",
    "load_model",
    "model_metadata",
    "module_config",
    "record_arguments",
    "register_module",
    "save_model",
]
