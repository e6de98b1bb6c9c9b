"""Ticket text cleaning and assembly, shared by training and the stream worker.

Both sides call the same functions, so the model never sees text prepared in a
way it was not trained on. The rules are deliberately *line based*: quoted
history, signatures and disclaimers are recognised only where an email puts
them (at the start of a line, never on the first line). The shipped training
data is one lower-cased line per ticket without punctuation, and a rule that
cut text mid-line at "best regards" would throw away real content there.

Assembled format (documented in docs/training.md)::

    <subject> <requester turns…> agent: <agent turn> … | service: vpn | priority: high

Requester turns come first (they say what the problem is), agent turns follow
with a light ``agent:`` marker, system/bot messages and auto-replies are
dropped, and triage fields are appended as ``| key: value`` pairs.
"""
from __future__ import annotations

import html
import re
import unicodedata
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

PREPROCESSING_VERSION = "1"

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

_AUTO_REPLY = re.compile(
    r"^\s*(?:automatic reply|auto[- ]?reply|autoreply|out of (?:the )?office)\b"
    r"|this is an automated (?:message|notification|e-?mail|response)"
    r"|(?:please )?do not reply to this (?:e-?mail|message)"
    r"|i am (?:currently )?out of (?:the )?office",
    re.IGNORECASE,
)

# Where an email's own content ends: everything from such a line on is dropped.
_CUT_LINE = [
    re.compile(r"^\s*on\b.{0,200}\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*original message\s*-{2,}", re.IGNORECASE),
    re.compile(r"^\s*_{8,}\s*$"),
    re.compile(r"^\s*--\s*$"),
    re.compile(r"^\s*(?:best|kind|warm|warmest) regards\b,?(?:\s+\S+){0,3}\s*$", re.IGNORECASE),
    re.compile(r"^\s*(?:regards|cheers|sincerely|thanks|thank you|many thanks)[,.!]?(?:\s+\S+){0,2}\s*$",
               re.IGNORECASE),
    re.compile(r"^\s*sent from my \w+", re.IGNORECASE),
    re.compile(r"^\s*get outlook for \w+", re.IGNORECASE),
    re.compile(r"^\s*(?:this (?:e-?mail|message|communication) and any (?:attachments?|files)"
               r"|confidentiality notice|disclaimer:|if you are not the intended recipient)", re.IGNORECASE),
]
_FROM_LINE = re.compile(r"^\s*from:\s", re.IGNORECASE)
_SENT_LINE = re.compile(r"^\s*(?:sent|date):\s", re.IGNORECASE)
_WROTE_START = re.compile(r"^\s*on\s.{0,200}$", re.IGNORECASE)
_WROTE_END = re.compile(r"wrote:\s*$", re.IGNORECASE)
_QUOTED = re.compile(r"^\s*>")

_SCRIPT_STYLE = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_BLOCK_TAG = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h\d)\b[^>]*>", re.IGNORECASE)
_TAG = re.compile(r"</?[a-zA-Z][^<>]*>|<!--.*?-->", re.DOTALL)
_SPACES = re.compile(r"[ \t\f\v]+")
_CHAR_MAP = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2026": "...",
    "\u00a0": " ", "\u200b": "",
})
_SENTINEL = "\x00{}\x00"
_SENTINEL_RE = re.compile("\x00(\\d+)\x00")


@dataclass(frozen=True)
class CleanConfig:
    """Knobs of cleaning that a deployment may tune (mask tokens, masking threshold)."""

    mask_patterns: tuple[str, ...] = DEFAULT_MASK_PATTERNS
    max_masking_ratio: float = DEFAULT_MAX_MASKING_RATIO

    def mask_regex(self) -> re.Pattern:
        return _mask_regex(self.mask_patterns)


_MASK_CACHE: dict[tuple[str, ...], re.Pattern] = {}


def _mask_regex(patterns: Sequence[str]) -> re.Pattern:
    key = tuple(patterns)
    if key not in _MASK_CACHE:
        _MASK_CACHE[key] = re.compile("|".join(f"(?:{p})" for p in key), re.IGNORECASE)
    return _MASK_CACHE[key]


def _strip_html(text: str) -> str:
    if "<" in text:
        text = _SCRIPT_STYLE.sub(" ", text)
        text = _BLOCK_TAG.sub("\n", text)
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


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


def _is_cut_line(lines: list[str], i: int) -> bool:
    line = lines[i]
    if any(rx.search(line) for rx in _CUT_LINE):
        return True
    # "From: x / Sent: y" headers of a forwarded or replied message.
    if _FROM_LINE.search(line) and any(_SENT_LINE.search(nxt) for nxt in lines[i + 1:i + 4]):
        return True
    # "On Mon, … <x@y>\nwrote:" wrapped over two lines by the mail client.
    return bool(_WROTE_START.search(line) and i + 1 < len(lines) and _WROTE_END.search(lines[i + 1])
                and len(lines[i + 1].split()) <= 6)


def _strip_email_structure(text: str) -> str:
    """Keep the author's own words: drop quoted lines and cut at history/signature/disclaimer."""
    lines = text.split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _QUOTED.match(line):
            continue
        # A first line is never a signature: single-line tickets stay whole.
        if kept and any(k.strip() for k in kept) and _is_cut_line(lines, i):
            break
        kept.append(line)
    return "\n".join(kept)


def clean_text(text: Any, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> str:
    """One message → plain lower-case text on one line, mask tokens kept (lower-cased)."""
    if text is None:
        return ""
    text = str(text)
    if not text.strip():
        return ""
    masks: list[str] = []

    def protect(match: re.Match) -> str:
        masks.append(match.group(0).lower())
        return _SENTINEL.format(len(masks) - 1)

    text = _mask_regex(mask_patterns).sub(protect, text.replace("\x00", " "))
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _strip_html(text)
    text = _normalise_chars(text)
    text = _strip_email_structure(text)
    text = _SPACES.sub(" ", text.replace("\n", " ")).strip().lower()
    if masks:
        text = _SENTINEL_RE.sub(lambda m: f" {masks[int(m.group(1))]} ", text)
        text = _SPACES.sub(" ", text).strip()
    return text


def masking_ratio(text: str, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> float:
    """Share of whitespace tokens that contain a mask token (0.0 for empty text)."""
    tokens = text.split()
    if not tokens:
        return 0.0
    rx = _mask_regex(mask_patterns)
    return sum(1 for tok in tokens if rx.search(tok)) / len(tokens)


def is_auto_reply(text: Any) -> bool:
    """Out-of-office notices and "this is an automated message" replies.

    Bounce notices ("undeliverable…") are *not* auto-replies here: users forward
    them as genuine tickets about mail delivery.
    """
    return bool(text) and bool(_AUTO_REPLY.search(str(text)))


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
        value = clean_text(triage[key], mask_patterns)
        if value:
            parts.append(f"| {str(key).strip().lower()}: {value}")
    return " ".join(parts)


def flatten_conversation(ticket: Any, mask_patterns: Sequence[str] = DEFAULT_MASK_PATTERNS) -> Conversation:
    """Clean every message and flatten the thread: requester turns first, then agent turns."""
    data = _as_mapping(ticket)
    requester: list[str] = []
    agent: list[str] = []
    auto = 0
    subject = data.get("subject")
    if subject and is_auto_reply(subject):
        auto += 1
        subject = None
    for message in data.get("messages") or ():
        role = str(_field(message, "role", "requester") or "requester").lower()
        raw = _field(message, "text", "")
        if role in _DROPPED_ROLES:
            continue
        if is_auto_reply(raw):
            auto += 1
            continue
        text = clean_text(raw, mask_patterns)
        if not text:
            continue
        (agent if role == "agent" else requester).append(text)
    human = len(requester) + len(agent)
    parts = [clean_text(subject, mask_patterns)] if subject else []
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
