"""One error root: every exception class the project defines descends from TicketClassifierError."""
from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from schemas.errors import ConfigError, TicketClassifierError

ROOT = Path(__file__).resolve().parents[1]


def _our_exception_classes():
    for package in ("schemas", "stream", "training"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text()
            if "Error(" not in text and "Exception)" not in text:
                continue
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
            if module.endswith("__main__"):
                continue
            for _, obj in inspect.getmembers(importlib.import_module(module), inspect.isclass):
                if issubclass(obj, BaseException) and obj.__module__ == module:
                    yield obj


def test_every_exception_of_ours_descends_from_the_project_root():
    classes = list(_our_exception_classes())
    assert len(classes) > 20, "found too few exception classes: the scan is stale"
    strays = [f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, TicketClassifierError)]
    assert not strays, f"exceptions outside the TicketClassifierError hierarchy: {strays}"


def test_both_config_errors_are_one_hierarchy():
    from stream.config import ConfigError as StreamConfigError
    from training.exceptions import ConfigError as TrainingConfigError

    assert issubclass(StreamConfigError, ConfigError) and issubclass(TrainingConfigError, ConfigError)
