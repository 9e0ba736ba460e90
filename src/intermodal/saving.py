"""Save and load models as a directory with ``config.json`` and ``model.safetensors`` (no pickle).

A model can be saved when it and every module passed to its constructor are classes registered
with :func:`register_module`. Registration records the constructor arguments of each instance, so
``load_model`` rebuilds the same architecture from ``config.json`` and then loads the weights.
Loading only ever instantiates registered classes.
"""

from __future__ import annotations

import functools
import inspect
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from intermodal._io import write_directory_atomic

FORMAT = "intermodal-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"

_MODULES: dict[str, type[nn.Module]] = {}
M = TypeVar("M", bound=type[nn.Module])


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


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if isinstance(value, dict):
        if set(value) == {"__module__"}:
            return build_module(value["__module__"])
        return {k: _decode(v) for k, v in value.items()}
    return value


def build_module(description: Mapping[str, Any]) -> nn.Module:
    """Rebuild a module (untrained) from ``module_config``'s description."""
    name = description.get("class")
    if name not in _MODULES:
        raise ValueError(
            f"config.json names an unknown module class {name!r}; known: {sorted(_MODULES)} "
            "(import the package that registers it before loading)"
        )
    return _MODULES[name](**_decode(description.get("config", {})))


def save_model(
    model: nn.Module,
    directory: str | os.PathLike[str],
    metadata: Mapping[str, Any] | None = None,
    overwrite: bool = False,
) -> Path:
    """Save ``model`` as ``directory/config.json`` + ``directory/model.safetensors``, atomically.

    Args:
        model: a module of a registered class (see :func:`register_module`).
        directory: the target directory; it must not exist or be empty unless ``overwrite``.
        metadata: optional JSON-serializable facts to keep beside the config (metrics, data set).
    """
    config = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": module_config(model),
        "metadata": _encode(dict(metadata or {}), "metadata"),
    }
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in model.state_dict().items()}

    def write(path: Path) -> None:
        (path / CONFIG_FILE).write_text(json.dumps(config, indent=2))
        save_file(tensors, str(path / WEIGHTS_FILE), metadata={"format": FORMAT})

    write_directory_atomic(Path(directory), write, overwrite)
    return Path(directory)


def read_config(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``config.json`` of a saved model."""
    path = Path(directory) / CONFIG_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: {directory} is not a saved intermodal model")
    try:
        config = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(
            f"{path} is corrupt or truncated ({error}); save the model again"
        ) from None
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"{path} is not an intermodal model config")
    if config.get("format_version", 0) > FORMAT_VERSION:
        raise ValueError(f"{path} was written by a newer intermodal; upgrade to load it")
    return config


def load_model(directory: str | os.PathLike[str], map_location: str = "cpu") -> nn.Module:
    """Rebuild a model saved with :func:`save_model` and load its weights (no pickle).

    The model is returned in evaluation mode (dropout off, batch-norm statistics frozen); call
    ``.train()`` to train it further.
    """
    config = read_config(directory)
    model = build_module(config["model"])
    path = Path(directory) / WEIGHTS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: the saved model has no weights")
    try:
        tensors = load_file(str(path), device=map_location)
    except (SafetensorError, OSError) as error:
        raise ValueError(
            f"{path} is corrupt or truncated ({error}); save the model again"
        ) from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        raise ValueError(
            f"{path} does not match config.json: missing {missing[:5]}, unexpected "
            f"{unexpected[:5]}, wrong shape {wrong[:5]}; the two files come from different models"
        )
    model.load_state_dict(tensors)
    return model.to(map_location).eval()


def model_metadata(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata stored with a saved model."""
    return dict(read_config(directory).get("metadata", {}))


__all__ = [
    "build_module",
    "load_model",
    "model_metadata",
    "module_config",
    "register_module",
    "save_model",
]
