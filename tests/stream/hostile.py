"""Hostile inputs for the worker and ``POST /classify``: the issue's cases and hypothesis strategies.

Shared by the property tests (in process) and the broker test, so both attack
with the same records.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from hypothesis import Phase, given, settings
from hypothesis import strategies as st


def ticket(ticket_id: str, text: str = "my laptop screen is broken, need a replacement", **extra) -> dict:
    return {"schema_version": "1", "ticket_id": ticket_id, "source": "chat",
            "messages": [{"role": "requester", "text": text}],
            "created_at": datetime.now(timezone.utc).isoformat(), **extra}


def encode(document) -> bytes:
    """JSON bytes as a producer writes them; lone surrogates go out as ``\\ud800`` escapes (legal JSON text)."""
    return json.dumps(document).encode("ascii")


def cases(prefix: str) -> dict[str, bytes]:
    """The issue's hostile records (and the topic's encodings the API must refuse alike), by name."""
    return {
        # 1: passes validation today, then cannot be serialised
        "surrogate_subject": encode(ticket(f"{prefix}-surrogate", subject="printer \ud800 help")),
        # 2: 200 KB of control bytes: the dead letter must still fit
        "control_bytes": b"\x01" * 200_000,
        # 3: valid today, overflows any later timezone conversion
        "year_one": encode(ticket(f"{prefix}-year-one", created_at="0001-01-01T00:00:00+01:00")),
        # 5: RecursionError in the JSON decoder
        "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
        "deep_object": b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        "utf16": json.dumps(ticket(f"{prefix}-utf16")).encode("utf-16"),
        "utf8_bom": b"\xef\xbb\xbf" + encode(ticket(f"{prefix}-bom")),
    }


# ---- strategies -------------------------------------------------------------------------------------

_any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=40)
_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | _any_text
json_values = st.recursive(_scalars, lambda kids: st.lists(kids, max_size=4) | st.dictionaries(_any_text, kids,
                                                                                                max_size=4),
                           max_leaves=12)
_dates = st.sampled_from(["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "1969-12-31T23:59:59Z",
                          "2026-11-24T09:00Z", "2026-02-30T00:00:00Z", "2026-11-24T09:00:00+99:00"])
_long_texts = st.sampled_from(["\x01" * 5000, "x" * 300_000, "<!--" * 2000, "\ud800" * 10, "\u0000" * 100])
_fields = st.sampled_from([["ticket_id"], ["source"], ["subject"], ["messages"], ["messages", 0],
                           ["messages", 0, "role"], ["messages", 0, "text"], ["messages", 0, "sent_at"],
                           ["triage"], ["language"], ["created_at"], ["schema_version"]])


@st.composite
def mutated_tickets(draw, prefix: str = "fuzz") -> bytes:
    """A valid ticket with one to three fields replaced by hostile values, or its bytes mangled."""
    document = ticket(f"{prefix}-{draw(st.integers(0, 10**9))}")
    for _ in range(draw(st.integers(1, 3))):
        path, value = draw(_fields), draw(json_values | _dates | _long_texts)
        node = document
        try:
            for part in path[:-1]:
                node = node[part]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            pass
    raw = json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        return raw
    at = draw(st.integers(0, len(raw)))
    return raw[:at] + draw(st.binary(max_size=8)) + raw[at + draw(st.integers(0, 8)):]


_unicode = st.text(alphabet=st.characters(codec="utf-8"), max_size=60)   # any valid text: controls, NUL, astral
_offsets = st.integers(-(24 * 60 - 1), 24 * 60 - 1).map(lambda m: timezone(timedelta(minutes=m)))
_in_range = st.builds(lambda when, tz: when.replace(tzinfo=tz).isoformat(),
                      st.datetimes(datetime(1970, 1, 1), datetime(2199, 12, 31, 23, 59, 59)), _offsets)


@st.composite
def extreme_valid_tickets(draw) -> bytes:
    """Tickets the contract accepts, at its edges: odd text, dates at the range ends with any offset."""
    messages = draw(st.lists(st.fixed_dictionaries({"role": st.sampled_from(["requester", "agent", "system", "bot"]),
                                                    "text": _unicode}, optional={"sent_at": _in_range}),
                             min_size=1, max_size=4))
    document = {"schema_version": "1", "ticket_id": draw(_unicode.filter(lambda t: t.strip() and len(t) <= 256)),
                "source": draw(st.sampled_from(["chat", "email"])), "messages": messages,
                "created_at": draw(_in_range | st.sampled_from(["1970-01-01T00:00:00+23:59",
                                                                 "2199-12-31T23:59:59-23:59"]))}
    if draw(st.booleans()):
        document["subject"] = draw(_unicode | st.just("\x01" * 1000))
    if draw(st.booleans()):
        document["triage"] = draw(st.dictionaries(_unicode.filter(lambda k: 0 < len(k) <= 64), _unicode, max_size=4))
    return json.dumps(document, ensure_ascii=draw(st.booleans())).encode("utf-8")


#: Anything a producer could put on ``tickets.raw``.
raw_records = (st.binary(max_size=3000)
               | json_values.map(lambda v: json.dumps(v).encode("ascii"))
               | mutated_tickets()
               | extreme_valid_tickets())


def sample(strategy, n: int) -> list:
    """``n`` values drawn from ``strategy`` outside a property test (reproducible: derandomized)."""
    drawn: list = []

    @settings(max_examples=n, database=None, derandomize=True, phases=[Phase.generate])
    @given(strategy)
    def collect(value):
        drawn.append(value)

    collect()
    return drawn[:n]
