"""Where an email's own words end: quoted history, headers, sign-offs, footers, auto-replies.

The rules are *line based*: a reply header, separator, sign-off, footer or
disclaimer is recognised only as a line of its own (or the start of one), and
never on a message's first non-empty line. The shipped training data is one
lower-cased line per ticket, and a rule that cut mid-line at "best regards"
would throw away real content there.

Two sources of rules, applied together (no language detection):

* quotequail's reply and forward patterns ("On … wrote:", "Am … schrieb …:",
  "Le … a écrit :", "El … escribió:", "Em … escreveu:", "Op … schreef …:",
  "-----Original Message-----", "Begin forwarded message:", …) via
  :func:`quotequail.quote`;
* our tables in :mod:`stream.inference.cleaning_tables` for what it lacks.

Bounded time: every line pattern is anchored at the line start with bounded
repetition, and only lines of at most ``MAX_STRUCTURE_LINE`` characters are
matched at all (headers, separators and sign-offs are short lines; a longer line
is content). quotequail, whose patterns hold unbounded ``(.*)`` groups, sees
longer lines replaced by a placeholder, so its cost per line is bounded too.
"""
from __future__ import annotations

import re
from typing import Iterable

import quotequail

from . import cleaning_tables as tables

MAX_STRUCTURE_LINE = 300
_LONG_LINE_PLACEHOLDER = "\u2026"
# quotequail runs 25+ patterns per line; skip it unless the text holds one of its markers
# (lower-cased substrings, checked with ``in``: far cheaper than a regex alternation).
_QUOTEQUAIL_HINTS = (
    "wrote", "schrieb", "écrit", "escribió", "escreveu", "schreef", "geschreven", "skrev", "написал", "forwarded",
    "weitergeleitet", "réexpédié", "reenviado", "doorgestuurd", "original", "ursprüngliche", "oorspronkelijk",
    "origineel", "transféré", "vidarebefordrat", "пересылаемое", "_" * 32, "/",
)


def _phrases(items: Iterable[str]) -> str:
    """Literal phrases as one alternation, longest first, any whitespace run for a space."""
    escaped = (re.escape(p).replace(r"\ ", r"\s{1,4}") for p in sorted(set(items), key=len, reverse=True))
    return "|".join(escaped)


_WORD = r"[^\s]{1,64}"
_SIGN_OFF = re.compile(
    rf"\s{{0,16}}(?:{_phrases(tables.SIGN_OFFS)})[,.!:]?(?:\s{{1,8}}{_WORD}){{0,{tables.SIGN_OFF_MAX_TRAILING_WORDS}}}"
    rf"[\s,]{{0,8}}$"
    rf"|\s{{0,16}}(?:{_phrases(tables.THANKS)})[,.!:]?(?:\s{{1,8}}{_WORD}){{0,{tables.THANKS_MAX_TRAILING_WORDS}}}"
    rf"[\s,.!]{{0,8}}$",
    re.IGNORECASE,
)
_FOOTER = re.compile(rf"\s{{0,16}}(?:{_phrases(tables.MOBILE_FOOTERS)})\b", re.IGNORECASE)
_DISCLAIMER = re.compile(rf"\s{{0,16}}(?:{_phrases(tables.DISCLAIMERS)})", re.IGNORECASE)
_SEPARATOR = re.compile(
    rf"[\s>*]{{0,16}}[-_=*]{{0,40}}\s{{0,4}}(?:{_phrases(tables.FORWARD_SEPARATORS)})\s{{0,4}}[-_=*]{{0,40}}:?\s{{0,8}}$",
    re.IGNORECASE,
)
_RULE_LINE = re.compile(r"\s{0,16}(?:_{8,}|-{2})\s{0,8}$")      # Outlook's underscore rule, "-- " signature mark
_REPLY_LINE = re.compile(
    "|".join(rf"[\s>]{{0,16}}{re.escape(start)}\s.{{0,250}}\s{re.escape(end).replace(chr(92) + ' ', ' ?')}\s{{0,8}}$"
             for start, end in tables.REPLY_LINES),
    re.IGNORECASE,
)
_REPLY_START = re.compile(rf"[\s>]{{0,16}}(?:{_phrases(start for start, _ in tables.REPLY_LINES)})\s", re.IGNORECASE)
_REPLY_END = re.compile(
    rf".{{0,200}}\b(?:{_phrases(end.rstrip(' :') for _, end in tables.REPLY_LINES)})\s?:\s{{0,8}}$", re.IGNORECASE)
_HEADER_FROM = re.compile(rf"[\s>*]{{0,16}}(?:{_phrases(tables.HEADER_FROM)})\s?\*?\s?:", re.IGNORECASE)
_HEADER_FOLLOW = re.compile(rf"[\s>*]{{0,16}}(?:{_phrases(tables.HEADER_FOLLOW)})\s?\*?\s?:", re.IGNORECASE)
_QUOTED = re.compile(r"[ \t]{0,16}>")

_AUTO_REPLY_START = re.compile(rf"\s{{0,16}}(?:{_phrases(tables.AUTO_REPLY_START)})(?!\w)", re.IGNORECASE)
_SUBJECT_PREFIX = re.compile(
    rf"\s{{0,8}}(?:(?i:{_phrases(tables.SUBJECT_PREFIXES)})|{_phrases(tables.SUBJECT_PREFIXES_UPPER)})"
    rf"\s{{0,4}}(?:\[\d{{1,4}}\]|\(\d{{1,4}}\))?\s{{0,4}}:\s{{0,8}}"
)


def is_auto_reply(text: str) -> bool:
    """Out-of-office notices and "this is an automated message" replies, in any of our languages.

    Bounce notices ("undeliverable…") are *not* auto-replies here: users forward
    them as genuine tickets about mail delivery.
    """
    if _AUTO_REPLY_START.match(text):
        return True
    flat = " ".join(text.lower().split())
    return any(phrase in flat for phrase in tables.AUTO_REPLY_ANYWHERE)


def strip_subject_prefixes(subject: str) -> str:
    """``"AW: WG: RE: VPN"`` → ``"VPN"``; a subject that is only prefixes is kept as it is."""
    end = 0
    while match := _SUBJECT_PREFIX.match(subject, end):
        end = match.end()
    rest = subject[end:]
    return rest if rest.strip() else subject


def _quotequail_cut(lines: list[str]) -> int | None:
    """Index of the first line of quoted history that quotequail recognises, if any."""
    shown = [line if len(line) <= MAX_STRUCTURE_LINE else _LONG_LINE_PLACEHOLDER for line in lines]
    lowered = "\n".join(shown).lower()
    if not any(hint in lowered for hint in _QUOTEQUAIL_HINTS):
        return None
    # A first placeholder line keeps the split index unambiguous (the head is never empty).
    parts = quotequail.quote("\n".join([_LONG_LINE_PLACEHOLDER, *shown]), limit=len(shown) + 2,
                             quote_intro_line=True)
    if len(parts) < 2:
        return None
    return parts[0][1].count("\n")


def _is_cut_line(lines: list[str], i: int) -> bool:
    line = lines[i]
    head = line[:MAX_STRUCTURE_LINE]
    # Footers and disclaimers are recognised by how the line starts, however long it is.
    if _FOOTER.match(head) or _DISCLAIMER.match(head):
        return True
    if len(line) > MAX_STRUCTURE_LINE:
        return False
    if _SEPARATOR.match(line) or _RULE_LINE.match(line) or _REPLY_LINE.match(line) or _SIGN_OFF.match(line):
        return True
    following = [nxt for nxt in lines[i + 1:i + 5] if len(nxt) <= MAX_STRUCTURE_LINE]
    # "From: x / Sent: y" (Von:/Gesendet:, De :/Envoyé :, Da:/Inviato:, …) headers of a quoted message.
    if _HEADER_FROM.match(line) and any(_HEADER_FOLLOW.match(nxt) for nxt in following):
        return True
    # "On Mon, … <x@y>\nwrote:" wrapped over two lines by the mail client.
    nxt = lines[i + 1] if i + 1 < len(lines) else ""
    return bool(_REPLY_START.match(line) and len(nxt) <= MAX_STRUCTURE_LINE and _REPLY_END.match(nxt)
                and len(nxt.split()) <= 6)


def strip_email_structure(text: str) -> str:
    """Keep the author's own words: drop quoted lines and cut at history/signature/disclaimer."""
    lines = text.split("\n")
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None:
        return ""
    cut = _quotequail_cut(lines)
    if cut is not None and cut > first:
        lines = lines[:cut]
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _QUOTED.match(line):
            continue
        if i > first and _is_cut_line(lines, i):
            break
        kept.append(line)
    return "\n".join(kept)
