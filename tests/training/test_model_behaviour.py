"""Behavioural tests of a trained model: invariances and minimum functionality."""
from __future__ import annotations

import pytest

from stream.inference.predictor import Predictor


@pytest.fixture(scope="module")
def predictor(trained_registry, e5_embedders_root):
    root, version = trained_registry
    return Predictor.load(root / version, e5_embedders_root)


@pytest.fixture(scope="module")
def sample_texts(shipped_tickets):
    return shipped_tickets["Document"].sample(25, random_state=7).tolist()


def _ticket(text):
    return {"messages": [{"role": "requester", "text": text}]}


def test_whitespace_and_case_do_not_change_the_answer(predictor, sample_texts):
    plain = predictor.classify_tickets([_ticket(t) for t in sample_texts])
    # Spaces and tabs only: a newline after each word would (rightly) trigger the line-based email rules.
    noisy = predictor.classify_tickets([_ticket("\n  " + t.upper().replace(" ", "  \t ") + " \n")
                                        for t in sample_texts])
    assert [p.category for p in plain] == [p.category for p in noisy]


def test_kind_of_mask_token_barely_changes_the_answer(predictor, sample_texts):
    a = predictor.classify_tickets([_ticket(f"{t} contact [MASKED]") for t in sample_texts])
    b = predictor.classify_tickets([_ticket(f"{t} contact <EMAIL>") for t in sample_texts])
    same = sum(x.category == y.category for x, y in zip(a, b))
    assert same >= 0.9 * len(sample_texts)


def test_email_noise_does_not_change_the_answer(predictor, sample_texts):
    plain = predictor.classify_tickets([_ticket(t) for t in sample_texts])
    noisy = predictor.classify_tickets([_ticket(
        f"<p>{t}</p>\n\nBest regards,\nJohn\n\nThis email and any attachments are confidential.\n"
        f"On Mon, 3 Nov 2026 John wrote:\n> earlier message about something else") for t in sample_texts])
    assert [p.category for p in plain] == [p.category for p in noisy]


OBVIOUS = [
    ("please grant me local admin rights on my laptop to install software", "Administrative rights"),
    ("my laptop keyboard is broken and the screen flickers please replace the hardware", "Hardware"),
    ("please give me access to the shared folder and the confluence space", "Access"),
    ("purchase order for two new monitors please approve", "Purchase"),
    ("annual leave request sick leave and holiday days in the hr system", "HR Support"),
    ("mailbox storage quota exceeded need more disk space on the shared drive", "Storage"),
]


def test_obvious_tickets(predictor):
    preds = predictor.predict([text for text, _ in OBVIOUS])
    in_top2 = [expected in [c for c, _ in p.top_k[:2]] for p, (_, expected) in zip(preds, OBVIOUS)]
    assert sum(in_top2) >= len(OBVIOUS) - 1, list(zip([p.top_k[:2] for p in preds], OBVIOUS))
