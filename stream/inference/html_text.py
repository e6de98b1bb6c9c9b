"""HTML email bodies → plain text lines, with a real parser and in linear time.

Only messages that *are* HTML go through here (``content_type="text/html"``, or
:func:`looks_like_html` when the producer did not say): plain text keeps its
angle brackets (``<server01>``, ``<Error 0x800CCC0E>``, pasted XML).

lxml (libxml2's HTML parser) reads any input in one linear pass, unclosed
comments and ``<script`` runs included, where regex tag stripping was quadratic.
The tree is then walked without recursion: block elements and ``<br>`` become
line breaks (so the line-based email rules apply to HTML as to plain text),
``script``/``style``/``head`` and comments are dropped, and the walk stops at the
containers mail clients put quoted history in (Gmail's ``gmail_quote``,
``<blockquote>``, Outlook's ``divRplyFwdMsg``/``appendonsend``, Thunderbird's
``moz-cite-prefix``) once some text of the author's own came before.
"""
from __future__ import annotations

import re

from lxml import etree, html as lxml_html

# A document that starts like HTML ...
_HTML_START = re.compile(r"\s{0,64}(?:<\?xml[^>]{0,200}>\s{0,64})?<(?:!doctype\s+html|html|head|body)\b",
                         re.IGNORECASE)
# ... or has at least one HTML block element closed: "</p>", "</div>", "</td>", ... (inline
# ones such as </a> or </b> also close pasted XML elements, so they do not count).
_CLOSING_TAG = re.compile(r"</(p|div|table|tbody|tr|td|th|ul|ol|li|h[1-6]|blockquote|body|html|center)\s{0,8}>",
                          re.IGNORECASE)
_BR = re.compile(r"<br\s{0,8}/?>", re.IGNORECASE)

_BLOCK = frozenset({
    "address", "article", "aside", "blockquote", "body", "center", "dd", "div", "dl", "dt", "fieldset",
    "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "html", "li",
    "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
_SKIPPED = frozenset({"script", "style", "head", "title", "noscript", "template", "svg", "object", "iframe"})
_PARSER = lxml_html.HTMLParser(encoding="utf-8")
_QUOTE_CLASSES = frozenset({"gmail_quote", "moz-cite-prefix", "yahoo_quoted", "protonmail_quote"})
_QUOTE_IDS = frozenset({"divrplyfwdmsg", "appendonsend", "ydpquoted", "mail-editor-reference-message-container"})


def looks_like_html(text: str) -> bool:
    """Whether a message of unknown type is HTML.

    It counts as HTML when it starts (after whitespace, and an optional
    ``<?xml …?>``) with ``<!doctype html``, ``<html``, ``<head`` or ``<body``, or
    when it holds an HTML *block* element with its closing tag (``<p>…</p>``,
    ``<div …>…</div>``, ``<td>…</td>``, ``<li>…</li>``, …) or at least two ``<br>``
    in its first 10,000 characters. Pasted XML (unless it uses those very tag
    names), ``<server01>``, ``<john.doe@corp.com>`` or ``<Error 0x800CCC0E>`` are none of these.
    """
    if "<" not in text:
        return False
    if _HTML_START.match(text):
        return True
    closed = {match.group(1).lower() for match in _CLOSING_TAG.finditer(text)}
    if any(re.search(rf"<{name}[\s>/]", text, re.IGNORECASE) for name in closed):
        return True
    return len(_BR.findall(text, 0, 10_000)) >= 2


def _is_quote_container(el: etree._Element) -> bool:
    if el.tag == "blockquote":
        return True
    classes = {c.lower() for c in (el.get("class") or "").split()}
    return bool(classes & _QUOTE_CLASSES) or (el.get("id") or "").lower() in _QUOTE_IDS


def html_to_text(markup: str, max_chars: int) -> str:
    """The visible text of an HTML message, one line per block, history left out.

    Stops after ``max_chars`` characters of text: the rest would be cut by the
    caller's length budget anyway.
    """
    # Bytes with an explicit encoding: lxml refuses str with an "<?xml … encoding=…?>" declaration,
    # stops at a lone surrogate, and must not trust a <meta charset> that no longer holds.
    data = markup.encode("utf-8", "replace")
    try:
        root = lxml_html.document_fromstring(data, parser=_PARSER)
    except (etree.ParserError, ValueError):      # nothing but whitespace or comments
        return ""
    parts: list[str] = []
    size = 0
    skipping = 0
    has_text = False
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if not isinstance(el.tag, str):          # comment or processing instruction: keep only its tail
            if event == "end" and el.tail and not skipping:
                parts.append(el.tail)
                size += len(el.tail)
            continue
        tag = el.tag.lower()
        if event == "start":
            if tag in _SKIPPED:
                skipping += 1
            if skipping:
                continue
            if has_text and _is_quote_container(el):
                break
            if tag in _BLOCK or tag == "br":
                parts.append("\n")
            if el.text:
                parts.append(el.text)
                size += len(el.text)
                has_text = has_text or not el.text.isspace()
        else:
            if tag in _SKIPPED:
                skipping -= 1
                if skipping:
                    continue
            elif skipping:
                continue
            elif tag in _BLOCK:
                parts.append("\n")
            if el.tail:
                parts.append(el.tail)
                size += len(el.tail)
                has_text = has_text or not el.tail.isspace()
        if size > max_chars:
            break
    return "".join(parts)[:max_chars]
