"""The project's error root, here because every package imports ``schemas`` and ``schemas`` imports none.

Each package has a sub-root (``stream.exceptions.StreamError``,
``stream.inference.exceptions.InferenceError``, ``training.exceptions.TrainingError``…),
so a caller can catch one package's failures, or everything of ours with
:class:`TicketClassifierError`, and never a bare ``Exception``.
"""
from __future__ import annotations


class TicketClassifierError(Exception):
    """Root of every error the ticket-classifier raises on purpose."""


class ConfigError(TicketClassifierError, ValueError):
    """A setting (``TICKETS_*`` variable or training config key) has a value the program cannot use.

    The message names the variable or key; ``stream`` and ``training`` each subclass it.
    """
