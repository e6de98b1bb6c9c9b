"""A multi-label ticket's message: its label set, the menus that edit it, and the label edits they produce."""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlencode

from schemas import validate_json_schema
from schemas.models import ClassifiedEvent, FeedbackEvent
from stream.slack.blocks import CONFIRM_ACTION, PICK_ACTION, build_message
from stream.slack.interactivity import parse_request
from stream.slack.label_blocks import ADD_LABEL_ACTION, REMOVE_LABEL_ACTION
from tests.fixtures.fake_slack import FakeSlack
from tests.fixtures.downstream import classified_event, consume_all, multi_label_event, settings_for
from tests.slack.harmless import assert_harmless
from tests.slack.signed_requests import signed_headers

TEMPLATE = "https://desk.example.com/t/{ticket_id}"
MENU = ("Access", "Hardware", "Storage", "Security")


def _message(document: dict) -> tuple[ClassifiedEvent, dict]:
    event = ClassifiedEvent.model_validate(document)
    return event, build_message(event, channel="#it-x", labels=MENU, ticket_url_template=TEMPLATE, excerpt_chars=120)


def _menu(message: dict, action_id: str) -> tuple[dict, dict]:
    """(actions block, element) of the control ``action_id``."""
    for block in message["blocks"]:
        for element in block.get("elements") or []:
            if element.get("action_id") == action_id:
                return block, element
    raise AssertionError(f"no {action_id} in the message")


def _click(message: dict, action_id: str, value: str, action_ts: str = "1764660123.456789") -> bytes:
    """The form body Slack sends when a person picks ``value`` in the menu ``action_id`` of ``message``."""
    payload = FakeSlack.block_actions(message | {"channel": "C0HARDWARE", "ts": "1764660000.000100"}, action_id,
                                      value, user="U9", username="dora", action_ts=action_ts)
    return urlencode({"payload": json.dumps(payload)}).encode()


def test_a_multi_label_message_shows_its_set_and_offers_to_remove_or_add_a_label():
    event, message = _message(multi_label_event("INC-ML"))
    fields = next(b["fields"] for b in message["blocks"] if "fields" in b)
    shown = next(f["text"] for f in fields if f["text"].startswith("*Labels*"))
    assert shown == "*Labels*\n" + " · ".join(f"{i.label} ({i.probability:.0%})" for i in event.labels)
    assert not any(f["text"].startswith("*Runner-up*") for f in fields)
    _, remove = _menu(message, REMOVE_LABEL_ACTION)
    _, add = _menu(message, ADD_LABEL_ACTION)
    assert [o["value"] for o in remove["options"]] == event.label_names
    added = [o["value"] for o in add["options"]]
    assert set(added) == (set(MENU) | {k.category for k in event.top_k}) - set(event.label_names)
    # the category buttons stay (the top label is the ticket's category), in a block of their own
    category_block, confirm = _menu(message, CONFIRM_ACTION)
    assert confirm["value"] == event.category == event.label_names[0]
    label_block, _ = _menu(message, ADD_LABEL_ACTION)
    assert category_block["block_id"] != label_block["block_id"]  # Slack wants them unique in a message
    assert message["text"].startswith("INC-ML: Hardware (88%), Access (71%)")


def test_an_empty_set_offers_only_to_add_and_a_single_label_message_has_no_label_menus():
    _, empty = _message(multi_label_event("INC-NONE", labels=[], needs_human=True))
    assert "none above its threshold" in json.dumps(empty["blocks"])
    _menu(empty, ADD_LABEL_ACTION)
    assert REMOVE_LABEL_ACTION not in json.dumps(empty["blocks"])
    _, single = _message(classified_event("INC-ONE"))
    text = json.dumps(single["blocks"])
    assert ADD_LABEL_ACTION not in text and REMOVE_LABEL_ACTION not in text and "*Runner-up*" in text


def test_hostile_labels_stay_text():
    _, message = _message(multi_label_event("INC-H", labels=[{"label": "<!channel> @here", "probability": 0.9},
                                                            {"label": "<https://evil.example|x>", "probability": 0.8}]))
    assert_harmless(message, TEMPLATE)


def test_picks_in_the_label_menus_become_label_edits_that_correct_no_category():
    event, message = _message(multi_label_event("INC-ML"))
    removed = parse_request(_click(message, REMOVE_LABEL_ACTION, "Access"))
    added = parse_request(_click(message, ADD_LABEL_ACTION, "Security", action_ts="1764660124.000001"))
    picked = parse_request(_click(message, PICK_ACTION, "Storage"))
    for edit in removed + added:
        assert edit.schema_version == "2" and edit.is_label_edit
        assert edit.corrected_category == edit.previous_category == event.category
        assert (edit.ticket_id, edit.model_version) == (event.ticket_id, event.model_version)
        validate_json_schema("feedback_event", json.loads(edit.to_json_bytes()))
    assert (removed[0].labels_removed, removed[0].labels_added) == (["Access"], None)
    assert (added[0].labels_added, added[0].labels_removed) == (["Security"], None)
    assert removed[0].event_id != added[0].event_id
    # a category correction on the same message stays a version-1 event
    assert picked[0].schema_version == "1" and not picked[0].is_label_edit
    assert picked[0].corrected_category == "Storage"


def test_a_signed_label_edit_reaches_the_feedback_topic(kafka_bootstrap, kafka_topics):
    from tests.slack.test_interactivity import _exchange

    settings = settings_for(kafka_bootstrap, kafka_topics(2))
    _, message = _message(multi_label_event("INC-ML"))
    body = _click(message, ADD_LABEL_ACTION, "Security")

    async def scenario():
        statuses, metrics = await _exchange(kafka_bootstrap, settings, [(body, signed_headers(body))])
        return statuses, metrics, await consume_all(kafka_bootstrap, settings.kafka.topic_feedback, expected=1)

    statuses, metrics, records = asyncio.run(scenario())
    assert statuses == [200] and len(records) == 1 and records[0].key == b"INC-ML"
    event = FeedbackEvent.model_validate_json(records[0].value)
    assert event.labels_added == ["Security"] and event.channel == "slack:#it-hardware"
    assert metrics.registry.get_sample_value("tickets_feedback_events_total") == 1
