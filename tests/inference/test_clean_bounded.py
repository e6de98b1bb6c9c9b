"""Cleaning takes bounded time on hostile input, and HTML is parsed only when a message is HTML.

The timeouts are hang guards, not speed tests: the quadratic regex stripping these
inputs used to hit took minutes (118 s for 260 KB of "<!--"); linear cleaning takes
milliseconds, so a generous guard never flakes on a slow machine.
"""
from __future__ import annotations

import pytest

from pydantic import ValidationError

from schemas.models import TicketEvent
from schemas import SchemaViolation, validate_json_schema
from stream.inference.clean import (
    MAX_MESSAGE_CHARS,
    MAX_TICKET_CHARS,
    assemble_ticket_text,
    clean_text,
    flatten_conversation,
)
from stream.inference.html_text import looks_like_html

SIZE = 260_000
HOSTILE = {
    "unclosed-comments": "<!--" * (SIZE // 4),
    "unclosed-script": "<script" * (SIZE // 7),
    "open-script-tags": "<script>" * (SIZE // 8),
    "html-doc-of-unclosed-comments": "<html><body><p>printer jam</p>" + "<!--" * (SIZE // 4),
    "html-doc-of-unclosed-script": "<!DOCTYPE html><p>vpn down</p>" + "<script" * (SIZE // 7),
    "less-than-signs": "<" * SIZE,
    "greater-than-lines": "> \n" * (SIZE // 3),
    "unclosed-tags": "<a " * (SIZE // 3),
    "unclosed-attribute": '<p><a href="' * (SIZE // 12),
    "deep-nesting": "<div>" * (SIZE // 10) + "x" + "</div>" * (SIZE // 10),
    "br-only": "<br>" * (SIZE // 4),
    "spaces-then-text": " " * SIZE + "x",
    "one-long-line-of-words": "wrote " * (SIZE // 6),
    "reply-header-repeats": "Am 3. Nov schrieb " * (SIZE // 18),
    "date-and-mail-repeats": "2026/11/03 " + " <a@b" * (SIZE // 5),
    "date-and-mail-lines": "hi\n" + ("2026/11/03" + " <a@b" * 57 + "\n") * (SIZE // 300),
    "many-short-lines": "a\n" * (SIZE // 2),
    "sign-off-lines": "hi\n" + "Best regards Anna Maria\n" * (SIZE // 24),
    "from-lines": "hi\n" + "From: x\n" * (SIZE // 8),
    "separator-like": "hi\n" + ("-" * 100 + " original " + " " * 100 + "x\n") * (SIZE // 212),
    "escaped-breaks": "\\n" * (SIZE // 2),
    "backslashes": "\\" * SIZE,
    "ampersands": "&#" * (SIZE // 2),
    "stars": "*" * SIZE,
    "emoji-and-accents": "é😀" * (SIZE // 2),
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("raw", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_text_is_cleaned_in_bounded_time(raw):
    out = clean_text(raw)
    assert len(out) <= MAX_MESSAGE_CHARS
    text = assemble_ticket_text({"subject": raw, "messages": [{"role": "requester", "text": raw}] * 8,
                                 "triage": {"service": raw}})
    assert len(text) <= MAX_TICKET_CHARS + 3 * MAX_MESSAGE_CHARS


def test_html_hostile_inputs_keep_their_visible_text():
    assert clean_text(HOSTILE["html-doc-of-unclosed-comments"]) == "printer jam"
    assert clean_text(HOSTILE["html-doc-of-unclosed-script"]) == "vpn down"


def test_long_text_keeps_its_head():
    problem = "Outlook crashes when I open the shared calendar."
    out = clean_text(problem + " filler" * 10_000 + " TAIL-MARKER")
    assert out.startswith(problem.lower()) and "tail-marker" not in out
    assert len(out) <= MAX_MESSAGE_CHARS


def test_ticket_budget_skips_messages_after_it_is_spent():
    big = "word " * (MAX_MESSAGE_CHARS // 5)
    ticket = {"messages": [{"role": "requester", "text": big}] * 10 + [{"role": "requester", "text": "LAST"}]}
    conv = flatten_conversation(ticket)
    assert "last" not in conv.body
    assert len(conv.body) <= MAX_TICKET_CHARS + 10


@pytest.mark.parametrize("text, html", [
    ("<html><body>x</body></html>", True),
    ("  <!DOCTYPE html><p>x</p>", True),
    ('<?xml version="1.0"?><html><body>x</body></html>', True),
    ("<div>VPN</div> down", True),
    ("<p class='MsoNormal'>x</p>", True),
    ("line one<br>line two<br/>line three", True),
    ("<server01> is down", False),
    ("Error <Error 0x800CCC0E> in Outlook", False),
    ("mail from <john.doe@corp.com>", False),
    ('<config><server name="a"><port>443</port></server></config>', False),
    ("<job><a>1</a><b>2</b></job>", False),
    ("see </p> without an opening tag", False),
    ("Call me at <PHONE> or mail <EMAIL>", False),
    ("a < b and c > d", False),
])
def test_html_sniff(text, html):
    assert looks_like_html(text) is html


def test_plain_text_keeps_angle_bracket_content():
    raw = ('Backup on <server01> fails: <Error 0x800CCC0E> (reported by <john.doe@corp.com>)\n'
           '<config><server name="a"><port>443</port></server></config>')
    out = clean_text(raw)
    for fragment in ("<server01>", "<error 0x800ccc0e>", "<john.doe@corp.com>",
                     '<config><server name="a"><port>443</port></server></config>'):
        assert fragment in out


def test_content_type_decides_over_the_sniff():
    snippet = "My page shows <div>Hello</div> instead of the form"
    assert clean_text(snippet, content_type="text/plain") == "my page shows <div>hello</div> instead of the form"
    assert clean_text(snippet) == "my page shows hello instead of the form"
    assert clean_text("<server01> down", content_type="text/html") == "down"
    assert clean_text("<b>printer</b> jam", content_type="text/html; charset=utf-8") == "printer jam"


def test_ticket_event_carries_content_type_to_cleaning():
    event = TicketEvent.model_validate({
        "ticket_id": "T-1", "source": "email", "created_at": "2026-11-24T09:15:00Z",
        "messages": [{"role": "requester", "text": "<p>see <server01></p>", "content_type": "text/plain"},
                     {"role": "requester", "text": "<p>VPN</p><p>drops</p>", "content_type": "text/html"}],
    })
    assert assemble_ticket_text(event) == "<p>see <server01></p> vpn drops"


@pytest.mark.parametrize("content_type, valid", [
    ("text/plain", True), ("text/html", True), (None, True), ("absent", True), ("text/markdown", False), (1, False),
])
def test_content_type_is_optional_and_the_same_in_json_schema_and_model(content_type, valid):
    message = {"role": "requester", "text": "x"}
    if content_type != "absent":
        message["content_type"] = content_type
    event = {"schema_version": "1", "ticket_id": "T-1", "source": "email", "created_at": "2026-11-24T09:15:00Z",
             "messages": [message]}
    if valid:
        validate_json_schema("ticket_event", event)
        TicketEvent.model_validate(event)
        return
    with pytest.raises(SchemaViolation):
        validate_json_schema("ticket_event", event)
    with pytest.raises(ValidationError):
        TicketEvent.model_validate(event)


def test_html_mask_tokens_survive_parsing():
    assert clean_text("<p>Call <PHONE> or mail <EMAIL></p>", content_type="text/html") == \
        "call <phone> or mail <email>"


@pytest.mark.parametrize("raw, expected", [
    ("Hello,\\nmy VPN drops\\r\\nThanks\\nBob", "hello, my vpn drops"),
    ("path C:\\new\\notes.txt is gone", "path c:\\new\\notes.txt is gone"),
    ("share \\\\nas01\\new is gone", "share \\\\nas01\\new is gone"),
    ("log in C:\\Program Files\\nvpn\\log.txt", "log in c:\\program files\\nvpn\\log.txt"),
], ids=["escaped-breaks", "drive-path", "unc-path", "path-with-space"])
def test_escaped_line_breaks(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize("markup, expected", [
    ('<?xml version="1.0" encoding="utf-8"?><html><body><p>VPN down</p></body></html>', "vpn down"),
    ("<html><body><p>VPN \ud800 down \x01</p></body></html>", "vpn ? down"),
    ('<html><head><meta charset="iso-8859-1"></head><body><p>Grüße € Müller</p></body></html>', "grüße € müller"),
    ("<html><!-- nothing else --></html>", ""),
], ids=["xml-declaration", "lone-surrogate", "stale-meta-charset", "only-a-comment"])
def test_html_parsing_copes_with_awkward_documents(markup, expected):
    assert clean_text(markup) == expected
