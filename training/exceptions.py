"""Errors of offline training, evaluation and data loading."""
from __future__ import annotations

from schemas import errors


class TrainingError(errors.TicketClassifierError):
    """Root of every error raised by ``training`` (outside the embedder tools)."""


class ConfigError(TrainingError, errors.ConfigError):
    """The training configuration is invalid (unknown key, bad value); the message names the key."""


class DataSourceError(TrainingError):
    """A data source cannot be read or lacks a configured column."""


class NotEnoughDataError(TrainingError):
    """Too few usable rows (or too few per class) to train and validate."""


class BoosterDeviceError(TrainingError):
    """LightGBM cannot use the configured ``device_type`` on this machine or build."""
