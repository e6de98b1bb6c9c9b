"""onnxruntime, imported lazily, with the execution provider chosen once.

Serving must start with either the CPU or the GPU wheel of onnxruntime, never
both: ``onnxruntime`` and ``onnxruntime-gpu`` install the same package folder
and whichever was installed last silently wins.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import logging
import warnings

from .exceptions import InferenceError

log = logging.getLogger(__name__)

INSTALL_HINT = ("install one onnxruntime flavour: pip install 'ticket-classifier[cpu]' "
                "(or 'ticket-classifier[gpu]' on a CUDA machine)")
_DISTRIBUTIONS = ("onnxruntime", "onnxruntime-gpu")
_logged_choices: set[tuple[str, ...]] = set()


class OnnxRuntimeMissingError(InferenceError, ImportError):
    """Neither ``onnxruntime`` nor ``onnxruntime-gpu`` is installed."""


class ProviderUnavailableError(InferenceError, RuntimeError):
    """The requested execution provider is not in this onnxruntime build."""


def installed_distributions() -> list[str]:
    found = []
    for name in _DISTRIBUTIONS:
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        found.append(name)
    return found


def import_onnxruntime():
    """The ``onnxruntime`` module, or an error that says how to install it."""
    installed = installed_distributions()
    if len(installed) > 1:
        warnings.warn(
            "both onnxruntime and onnxruntime-gpu are installed; they overwrite each other's files. "
            "Uninstall both and reinstall exactly one (" + INSTALL_HINT + ")",
            RuntimeWarning, stacklevel=2)
    try:
        return importlib.import_module("onnxruntime")
    except ImportError as exc:
        raise OnnxRuntimeMissingError(f"onnxruntime cannot be imported ({exc}); {INSTALL_HINT}") from None


def choose_providers(provider: str = "auto") -> list[str]:
    """Execution providers for an InferenceSession: CUDA when asked or available, else CPU."""
    ort = import_onnxruntime()
    available = ort.get_available_providers()
    if provider == "cpu":
        chosen = ["CPUExecutionProvider"]
    elif provider == "cuda":
        if "CUDAExecutionProvider" not in available:
            raise ProviderUnavailableError(
                f"provider 'cuda' requested but this onnxruntime offers only {available}; "
                "install 'ticket-classifier[gpu]' on a machine with CUDA, or use provider 'cpu'")
        chosen = ["CUDAExecutionProvider", "CPUExecutionProvider"]
    elif provider == "auto":
        if "CUDAExecutionProvider" in available:
            chosen = ["CUDAExecutionProvider", "CPUExecutionProvider"]
        else:
            chosen = ["CPUExecutionProvider"]
    else:
        raise ValueError(f"provider must be 'auto', 'cpu' or 'cuda', not {provider!r}")
    key = tuple(chosen)
    if key not in _logged_choices:
        _logged_choices.add(key)
        log.info("onnxruntime execution providers", extra={"onnxruntime": ort.__version__, "providers": chosen,
                                                           "available": available})
    return chosen
