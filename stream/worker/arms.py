"""Which arm answers a ticket in split mode: a stable hash of its ticket id, not Python's ``hash``.

``hash(str)`` is salted per process, so two workers (or one after a restart)
would send a redelivered ticket to different arms. SHA-256 of the id, read as a
number in [0, 1), gives every worker the same answer forever, and a fraction
raised from 0.1 to 0.2 keeps the first 10 % where they were.
"""
from __future__ import annotations

import hashlib

CHAMPION = "champion"
CHALLENGER = "challenger"
_SCALE = float(1 << 64)


def bucket(ticket_id: str) -> float:
    """The ticket's fixed position in [0, 1): the first 8 bytes of SHA-256(ticket id) over 2**64."""
    digest = hashlib.sha256(ticket_id.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def arm_of(ticket_id: str, fraction: float) -> str:
    """``challenger`` for the tickets whose bucket falls under ``fraction``, else ``champion``."""
    return CHALLENGER if bucket(ticket_id) < fraction else CHAMPION
