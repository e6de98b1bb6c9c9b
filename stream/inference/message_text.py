"""One raw message → bounded plain text: the length budget, HTML or plain, escaped line breaks.

This runs before any regex rule of cleaning, so it is where cleaning's time is
bounded: what leaves here is at most ``max_chars`` long, and every later step
is linear or bounded per line.
"""
from __future__ import annotations

import html
import re
from typing import Any

from .html_text import html_to_text, looks_like_html

# The time budget of cleaning is a length budget, applied before any regex or
# structure rule runs: every step after it is linear or bounded per line, so a
# capped text is cleaned in bounded time whatever it holds. The *head* of a long
# text is kept because that is where the author states the problem; quoted
# history, signatures and disclaimers pile up at the bottom, and the embedder
# reads only the first 512 tokens anyway. The shipped training tickets are at
# most ~7,000 characters, far below the caps.
MAX_MESSAGE_CHARS = 20_000     # text of one message (for HTML: of the text the parser extracted)
MAX_HTML_CHARS = 300_000       # markup handed to lxml (linear; Outlook puts long <style> blocks first)
MAX_TICKET_CHARS = 60_000      # all messages of a ticket together; later messages are skipped

HTML = "text/html"
PLAIN = "text/plain"

# The two characters backslash-n (or backslash-r backslash-n) that some exports leave for a line
# break, unless they are a path segment: after another backslash ("\\nas01") or followed by
# more of a path ("Files\nvpn\log.txt"; a following "\n" is another break, not a path).
_ESCAPED_BREAK = re.compile(r"(?<!\\)(?:\\r\\n|\\n)(?![^\s\\]{1,64}\\(?!n|r\\n))")
# A token that starts like a Windows path (a drive, a UNC share, %APPDATA%) is left alone.
_PATH_TOKEN = re.compile(r"[\"'(<\[]?(?:[A-Za-z]:\\|\\\\|%\w{1,64}%\\)")
_WHITESPACE_SPLIT = re.compile(r"(\s+)")
# Well-formed character references only ("&amp;", "&#39;"), so "AT&T" and "R&D" stay.
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")


def decode_escaped_line_breaks(text: str) -> str:
    """Turn literal ``\\n`` and ``\\r\\n`` into line breaks, except in Windows paths.

    A heuristic: ``C:\\new``, ``\\\\srv\\notes`` and ``Program Files\\nvpn\\log.txt``
    keep their backslashes; an escaped break glued to a word ("Hola,\\nla VPN") is decoded.
    """
    if "\\" not in text:
        return text
    parts = _WHITESPACE_SPLIT.split(text)
    return "".join(part if "\\" not in part or _PATH_TOKEN.match(part) else _ESCAPED_BREAK.sub("\n", part)
                   for part in parts)


def _is_html(text: str, content_type: str | None) -> bool:
    if content_type is not None:
        return content_type.split(";", 1)[0].strip().lower() == HTML
    return looks_like_html(text[:MAX_HTML_CHARS])


def prepare_text(text: Any, content_type: str | None = None, max_chars: int = MAX_MESSAGE_CHARS,
                 mask_regex: re.Pattern | None = None) -> str:
    """A raw message → plain text with its line breaks, at most ``max_chars`` long.

    This is the length budget: everything after it runs on at most ``max_chars``
    characters. HTML (``content_type="text/html"``, or sniffed by
    :func:`~stream.inference.html_text.looks_like_html` when ``content_type`` is
    None) is parsed by lxml; plain text keeps its angle brackets and only has
    well-formed character references (``&amp;``) decoded.
    """
    if text is None:
        return ""
    text = str(text).replace("\x00", " ")
    if not text.strip():
        return ""
    if _is_html(text, content_type):
        # Mask tokens such as <EMAIL> would read as unknown tags: hand them to the parser as text.
        markup = text[:MAX_HTML_CHARS]
        if mask_regex is not None:
            markup = mask_regex.sub(lambda m: html.escape(m.group(0)), markup)
        text = html_to_text(markup, max_chars)
    else:
        text = text[:max_chars]
        if "&" in text:
            text = _ENTITY.sub(lambda m: html.unescape(m.group(0)), text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return decode_escaped_line_breaks(text)
