"""Cleaning and assembly rules, one table row per rule, on realistic chat and email text."""
from __future__ import annotations

import gzip
import csv
from pathlib import Path

import pytest

from stream.inference.clean import (
    PREPROCESSING_VERSION,
    assemble_ticket_text,
    clean_text,
    flatten_conversation,
    format_triage,
    is_auto_reply,
    masking_ratio,
    row_to_ticket,
)

DATA = Path(__file__).resolve().parents[2] / "data" / "it-service-tickets" / "tickets.csv.gz"

EMAIL_REPLY = """Hi team,

My VPN client keeps disconnecting every 10 minutes since this morning.

On Mon, 3 Nov 2026 at 09:12, IT Helpdesk <helpdesk@example.com> wrote:
> Hello, could you describe the problem?
> Thanks
"""

OUTLOOK_FORWARD = """Please reset my Outlook password, I am locked out.

-----Original Message-----
From: Jane Doe
Sent: Monday, November 3, 2026 9:00 AM
To: IT Support
Subject: password expiry
Your password expires in 3 days.
"""

OUTLOOK_HEADERS = """Laptop battery swells, please replace it.

From: Service Desk <sd@example.com>
Sent: Tuesday, November 4, 2026 10:00
Subject: RE: battery
We need the asset tag.
"""

SIGNATURE = """The printer on floor 3 jams on every job.
--
John Smith
Senior Accountant | ACME Ltd | +44 20 0000 0000
"""

REGARDS = """Could you order two 27 inch monitors for the new starters?

Best regards,
Anna Kowalska
Office Manager
"""

IPHONE = """Can't log in to SAP after the update

Sent from my iPhone"""

DISCLAIMER = """Need access to the finance shared drive.

This email and any attachments are confidential and intended solely for the addressee.
If you are not the intended recipient please delete it.
"""

HTML = "<html><body><p>Hello&nbsp;team,</p><p>My <b>mouse</b> &amp; keyboard don&#39;t work.</p>" \
       "<script>var x = 1;</script><br/>Thanks</body></html>"


@pytest.mark.parametrize("raw, must_keep, must_drop", [
    (EMAIL_REPLY, ["vpn client keeps disconnecting"], ["wrote:", "describe the problem", "helpdesk@"]),
    (OUTLOOK_FORWARD, ["reset my outlook password"], ["original message", "expires in 3 days", "jane doe"]),
    (OUTLOOK_HEADERS, ["laptop battery swells"], ["asset tag", "service desk"]),
    (SIGNATURE, ["printer on floor 3 jams"], ["john smith", "senior accountant"]),
    (REGARDS, ["order two 27 inch monitors"], ["best regards", "anna", "office manager"]),
    (IPHONE, ["can't log in to sap"], ["sent from my iphone"]),
    (DISCLAIMER, ["access to the finance shared drive"], ["confidential", "intended recipient"]),
    (HTML, ["hello team", "my mouse & keyboard don't work"], ["<", "&amp;", "var x", "nbsp"]),
], ids=["email-reply-quoted", "outlook-original-message", "outlook-from-sent", "dash-dash-signature",
        "best-regards", "sent-from-iphone", "legal-disclaimer", "html"])
def test_email_rules(raw, must_keep, must_drop):
    out = clean_text(raw)
    for fragment in must_keep:
        assert fragment in out
    for fragment in must_drop:
        assert fragment not in out
    assert "\n" not in out and "  " not in out


@pytest.mark.parametrize("raw, expected", [
    ("  Printer\t\tbroken \n\n again  ", "printer broken again"),
    ("VPN down 😡🔥 please help 🙏", "vpn down please help"),
    ("\u201cOutlook\u201d crashes \u2014 again\u2026", '"outlook" crashes - again...'),
    ("zero\u200bwidth and\u00a0nbsp", "zerowidth and nbsp"),
    ("ﬁle server full", "file server full"),
    ("", ""),
    (None, ""),
], ids=["whitespace", "emoji", "smart-punctuation", "zero-width-nbsp", "ligature-nfkc", "empty", "none"])
def test_normalisation(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize("raw, expected", [
    ("Call me at <PHONE> or mail <EMAIL>", "call me at <phone> or mail <email>"),
    ("user [MASKED] cannot log in", "user [masked] cannot log in"),
    ("password is ******", "password is ******"),
], ids=["angle-tokens-survive-html-stripping", "bracket-token", "stars"])
def test_mask_tokens_are_kept(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize("text, ratio", [
    ("laptop screen broken", 0.0),
    ("[masked] [masked] needs access", 0.5),
    ("<email> <phone> *** [MASKED] x", 0.8),
    ("", 0.0),
])
def test_masking_ratio(text, ratio):
    assert masking_ratio(text) == pytest.approx(ratio)


def test_masking_ratio_uses_configured_tokens():
    assert masking_ratio("{{secret}} vpn", mask_patterns=(r"\{\{secret\}\}",)) == pytest.approx(0.5)
    assert masking_ratio("{{secret}} vpn") == 0.0


@pytest.mark.parametrize("text, auto", [
    ("Automatic reply: I am out of the office until Monday", True),
    ("Out of Office: back on 12 Nov", True),
    ("This is an automated message, please do not reply", True),
    ("undeliverable mail to external partner, please check", False),   # a user forwarding a bounce
    ("my out of office setting does not work in outlook", False),
    ("laptop broken", False),
])
def test_auto_reply_detection(text, auto):
    assert is_auto_reply(text) is auto


CHAT = {
    "ticket_id": "T-1", "source": "chat", "subject": "VPN",
    "messages": [
        {"role": "bot", "text": "Hi! I'm the IT assistant. How can I help?"},
        {"role": "requester", "text": "my vpn drops every few minutes"},
        {"role": "agent", "text": "Which client version do you use?"},
        {"role": "system", "text": "Agent Bob joined the chat"},
        {"role": "requester", "text": "GlobalProtect 6.1"},
    ],
    "triage": {"priority": "High", "service": "VPN", "department": "Finance"},
}


def test_chat_is_flattened_requester_first_with_role_markers():
    text = assemble_ticket_text(CHAT)
    assert text == ("vpn my vpn drops every few minutes globalprotect 6.1 agent: which client version do you use?"
                    " | service: vpn | priority: high | department: finance")
    assert "assistant" not in text and "joined" not in text


def test_multi_turn_email_thread_keeps_only_new_content_per_message():
    ticket = {"source": "email", "subject": "RE: Monitor request", "messages": [
        {"role": "requester", "text": REGARDS},
        {"role": "agent", "text": "Approved, ordering now.\n\nKind regards,\nIT Purchasing\n\n" + EMAIL_REPLY},
        {"role": "requester", "text": "Automatic reply: I am out of the office"},
    ]}
    conv = flatten_conversation(ticket)
    assert conv.text == "monitor request could you order two 27 inch monitors for the new starters? " \
                        "agent: approved, ordering now."
    assert conv.auto_replies == 1 and conv.human_messages == 2 and not conv.auto_generated


def test_ticket_of_only_auto_replies_is_auto_generated():
    conv = flatten_conversation({"messages": [{"role": "requester", "text": "Out of office: back Monday"}]})
    assert conv.auto_generated and conv.body == ""


def test_triage_format_orders_known_keys_and_skips_empty_values():
    assert format_triage({"zone": "EU", "priority": "Low", "service": "Email", "empty": " "}) == \
        "| service: email | priority: low | zone: eu"
    assert format_triage(None) == ""


def test_pydantic_like_objects_are_accepted():
    class Msg:
        def __init__(self, role, text):
            self.role, self.text = role, text

    class Ticket:
        def model_dump(self):
            return {"subject": None, "messages": [Msg("requester", "Printer jam")], "triage": None}

    assert assemble_ticket_text(Ticket()) == "printer jam"


def test_row_to_ticket_uses_every_text_column_and_drops_missing_triage():
    ticket = row_to_ticket(["Subject line", None, "Body"], {"service": "VPN", "priority": float("nan")})
    assert assemble_ticket_text(ticket) == "subject line body | service: vpn"


def test_first_line_is_never_treated_as_a_signature():
    # The shipped data is single-line; a ticket that starts with a sign-off phrase must survive.
    assert clean_text("thanks for fixing the laptop but the screen flickers again") == \
        "thanks for fixing the laptop but the screen flickers again"


def test_cleaning_leaves_the_shipped_dataset_unchanged():
    """The shipped text is lower-cased and punctuation-free: cleaning must be a no-op on it."""
    with gzip.open(DATA, "rt", newline="") as fh:
        docs = [row["Document"] for _, row in zip(range(5000), csv.DictReader(fh))]
    changed = [d for d in docs if clean_text(d) != " ".join(d.split())]
    assert changed == []


def test_preprocessing_version_is_a_string():
    assert isinstance(PREPROCESSING_VERSION, str) and PREPROCESSING_VERSION
