"""Ticket text cleaning and assembly, shared by training and the stream worker.

Both sides call the same functions, so the model never sees text prepared in a
way it was not trained on. This module is the entry point; the parts live in
:mod:`~stream.inference.html_text` (HTML bodies, lxml), :mod:`~stream.inference.email_structure`
(quoted history, headers, sign-offs, footers, auto-replies; quotequail plus our
tables) and :mod:`~stream.inference.cleaning_tables` (the multilingual phrases).

One message goes through, in this order: length cap (or, for HTML, lxml
extraction up to the cap), escaped line breaks decoded, mask tokens protected,
characters normalised, email structure stripped, whitespace collapsed, lower case.

Assembled format (documented in docs/training.md)::

    <subject> <requester turns…> agent: <agent turn> … | service: vpn | priority: high

Requester turns come first (they say what the problem is), agent turns follow
with a light ``agent:`` marker, system/bot messages and auto-replies are
dropped, and triage fields are appended as ``| key: value`` pairs.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from . import email_structure
from .email_structure import strip_email_structure, strip_subject_prefixes
from .message_text import (  # noqa: F401  (the budget constants are part of this module's API)
    HTML,
    MAX_HTML_CHARS,
    MAX_MESSAGE_CHARS,
    MAX_TICKET_CHARS,
    PLAIN,
    decode_escaped_line_breaks,
    prepare_text,
)

PREPROCESSING_VERSION = "2"

# Tokens that anonymisation leaves behind. Matching is case-insensitive.
DEFAULT_MASK_PATTERNS: tuple[str, ...] = (
    r"\[masked\]",
    r"\[redacted\]",
    r"\*{3,}",
    r"<email>",
    r"<phone>",
    r"<name>",
    r"<url>",
    r"<ip>",
)
DEFAULT_MAX_MASKING_RATIO = 0.20

# Triage fields come first in this order; any other field follows alphabetically.
TRIAGE_ORDER = ("service", "priority", "department", "category_hint")

_DROPPED_ROLES = frozenset({"system", "bot"})
_SPACES = re.compile(r"[ \t\f\v]+")
_CHAR_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...",
    "\u00a0": " ", "\u200b": "",
})
_SENTINEL = "\x00{}\x00"
_SENTINEL_RE = re.compile("\x00(\\d+)\x00")


_MASK_CACHE: dict[tuple[str, ...], re.Pattern] = {}


def _mask_regex(patterns: Sequence[str]) -> re.Pattern:
    key = tuple(patterns)
    if key not in _MASK_CACHE:
        # no patterns must match nothing: an empty alternation would match between every character
        _MASK_CACHE[key] = re.compile("|".join(f"(?:{p})" for p in key) or r"(?!)", re.IGNORECASE)
    return _MASK_CACHE[key]


def _normalise_chars(text: str) -> str:
    if text.isascii():
        return "".join(" " if ch < " " and ch not in "\n\t\x00" else ch for ch in text) \
            if any(ch < " " for ch in text) else text
    text = unicodedata.normalize("NFKC", text).translate(_CHAR_MAP)
    kept = []
    for ch in text:
        if ch in "\n\t\x00":
            kept.append(ch)
            continue
        cat = unicodedata.category(ch)
        if cat in ("So", "Sk", "Cs", "Co", "Cn", "Cc", "Cf") or cat == "Mn" and ord(ch) >= 0xFE00:
            kept.append(" ")  # emoji, pictographs, control and format characters
        else:
            kept.append(ch)
    return "".join(kept)


def _clean_prepared(text: str, mask_patterns: Sequence[str]) -> str:
    if not text.strip():
        return ""
    masks: list[str] = []

    def protect(match: re.Match) -> str:
        masks.append(match.group(0).lower())
        return _SENTINEL.format(len(masks) - 1)

    text = _mask_regex(mask_patterns).sub(protect, text)
    text = _normalise_chars(text)
    text = strip_email_structure(text)
    text = _SPACES.sub(" ", text.replace("\n", " ")).strip().lower()
    if masks:
        text = _SENTINEL_RE.sub(lambda m: f" {masks[int(m.group(1))]} ", text)
        text = _SPACES.sub(" ", text).strip()
    return text


def clean_text(text: Any, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS,
               content_type: str | None = None, max_chars: int = MAX_MESSAGE_CHARS) -> str:
    """One message → plain lower-case text on one line, mask tokens kept (lower-cased)."""
    return _clean_prepared(prepare_text(text, content_type, max_chars, _mask_regex(mask_patterns)), mask_patterns)


def masking_ratio(text: str, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> float:
    """Share of whitespace tokens that contain a mask token (0.0 for empty text)."""
    tokens = text.split()
    if not tokens:
        return 0.0
    rx = _mask_regex(mask_patterns)
    return sum(1 for tok in tokens if rx.search(tok)) / len(tokens)


def is_auto_reply(text: Any) -> bool:
    """Out-of-office notices and "this is an automated message" replies, in any of our languages.

    Bounce notices ("undeliverable…") are *not* auto-replies here: users forward
    them as genuine tickets about mail delivery.
    """
    return bool(text) and email_structure.is_auto_reply(str(text)[:MAX_MESSAGE_CHARS])


def _as_mapping(ticket: Any) -> Mapping[str, Any]:
    if isinstance(ticket, Mapping):
        return ticket
    if hasattr(ticket, "model_dump"):
        return ticket.model_dump()
    return vars(ticket)


def _field(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, Mapping):
        return obj.get(name, default)
    return getattr(obj, name, default)


@dataclass(frozen=True)
class Conversation:
    """A ticket's conversation reduced to the text the model reads, with what was dropped."""

    body: str              # subject + requester turns + "agent:" turns, cleaned
    triage: str            # "| service: vpn | priority: high" (may be empty)
    auto_replies: int      # messages dropped as auto-replies
    human_messages: int    # requester/agent messages that carried text

    @property
    def text(self) -> str:
        return f"{self.body} {self.triage}".strip() if self.triage else self.body

    @property
    def auto_generated(self) -> bool:
        return self.human_messages == 0 and self.auto_replies > 0


def format_triage(triage: Mapping[str, Any] | None,
                  mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> str:
    """``{"service": "VPN", "priority": "High"}`` → ``"| service: vpn | priority: high"``."""
    if not triage:
        return ""
    keys = [k for k in TRIAGE_ORDER if k in triage] + sorted(k for k in triage if k not in TRIAGE_ORDER)
    parts = []
    for key in keys:
        value = clean_text(triage[key], mask_patterns, content_type=PLAIN)
        if value:
            parts.append(f"| {str(key).strip().lower()}: {value}")
    return " ".join(parts)


def flatten_conversation(ticket: Any, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> Conversation:
    """Clean every message and flatten the thread: requester turns first, then agent turns.

    The subject loses its reply/forward prefixes ("AW: WG: …"). Messages share
    ``MAX_TICKET_CHARS``: once the text read reaches it, later messages are not
    cleaned (the first turns state the problem).
    """
    data = _as_mapping(ticket)
    requester: list[str] = []
    agent: list[str] = []
    auto = 0
    subject = strip_subject_prefixes(prepare_text(data.get("subject"), PLAIN))
    if subject and is_auto_reply(subject):
        auto += 1
        subject = ""
    budget = MAX_TICKET_CHARS
    for message in data.get("messages") or ():
        role = str(_field(message, "role", "requester") or "requester").lower()
        if role in _DROPPED_ROLES or budget <= 0:
            continue
        prepared = prepare_text(_field(message, "text", ""), _field(message, "content_type"),
                                min(MAX_MESSAGE_CHARS, budget), _mask_regex(mask_patterns))
        budget -= len(prepared)
        if is_auto_reply(prepared):
            auto += 1
            continue
        text = _clean_prepared(prepared, mask_patterns)
        if not text:
            continue
        (agent if role == "agent" else requester).append(text)
    human = len(requester) + len(agent)
    parts = [_clean_prepared(subject, mask_patterns)] if subject else []
    parts += requester + [f"agent: {t}" for t in agent]
    body = " ".join(p for p in parts if p)
    return Conversation(body=body, triage=format_triage(data.get("triage"), mask_patterns),
                        auto_replies=auto, human_messages=human)


def assemble_ticket_text(ticket: Any, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> str:
    """A ticket (TicketEvent or dict) → the one line of text the model classifies."""
    return flatten_conversation(ticket, mask_patterns).text


def row_to_ticket(texts: Iterable[Any], triage: Mapping[str, Any] | None = None,
                  ticket_id: Any = None) -> dict:
    """A historical table row (one or more text columns) as a ticket dict for assembly."""
    messages = [{"role": "requester", "text": t} for t in texts if t is not None and str(t).strip()]
    clean_triage = {k: v for k, v in (triage or {}).items() if v is not None and str(v).strip()
                    and str(v).lower() != "nan"}
    return {"ticket_id": ticket_id, "messages": messages, "triage": clean_triage}
