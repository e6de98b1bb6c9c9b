"""Data tests of the shipped dataset: schema, label set, nulls, duplicates, cleaning yield."""
from __future__ import annotations

EXPECTED = {"Hardware": 10893, "HR Support": 8732, "Access": 5700, "Miscellaneous": 5648, "Storage": 2222,
            "Purchase": 1971, "Internal Project": 1695, "Administrative rights": 1408}


def test_schema_and_size(shipped_tickets):
    assert list(shipped_tickets.columns) == ["Document", "Topic_group"]
    assert len(shipped_tickets) == 38269


def test_label_set_and_counts_match_the_readme(shipped_tickets):
    assert shipped_tickets["Topic_group"].value_counts().to_dict() == EXPECTED


def test_no_nulls_no_empty_texts_no_duplicates(shipped_tickets):
    assert not shipped_tickets.isna().any().any()
    assert (shipped_tickets["Document"].str.strip() != "").all()
    assert not shipped_tickets["Document"].duplicated().any()


def test_text_is_lower_case_without_digits(shipped_tickets):
    docs = shipped_tickets["Document"]
    assert (docs == docs.str.lower()).all()
    assert not docs.str.contains(r"\d").any()


def test_cleaning_keeps_nearly_every_row():
    from training.config import load_config
    from training.train import load_data

    from tests.fixtures.models import SHIPPED_DATA

    prepared = load_data(load_config().replace(data={"path": str(SHIPPED_DATA)}), progress=False)
    assert prepared.rows_read == 38269
    assert len(prepared.frame) >= 38269 - 10            # only true auto-replies go (3 today)
    assert set(prepared.drop_reasons) >= {"auto_generated", "too_masked", "duplicate"}
