"""The label set of a multi-label ticket in its Slack message, and the menus that edit it.

A multi-label version answers with a set of labels (``ClassifiedEvent.labels``);
the message shows it in place of the runner-up ("Hardware 88% · Access 71%")
and adds a second row of controls: *Remove a label…* (the predicted ones) and
*Add a label…* (the other labels of the menu). Each pick becomes a FeedbackEvent
label edit (see :mod:`stream.slack.interactivity`). The category buttons stay:
the top label is still the ticket's single category. Labels come from the model
and the settings, but are escaped like every other field.
"""
from __future__ import annotations

import json
from typing import Iterable

from .blocks import MAX_OPTION_TEXT, MAX_OPTIONS, mrkdwn, shorten

ADD_LABEL_ACTION = "add_label"
REMOVE_LABEL_ACTION = "remove_label"
LABELS_SHOWN = 10      # in the message's Labels field (the event may carry up to 100)
LABEL_CHARS = 40


def _pct(p: float) -> str:
    return f"{p:.0%}"


def labels_field(event) -> dict:
    """The "Labels" field: the predicted set, most probable first, or a dash when no label reached its threshold."""
    shown = [f"{mrkdwn(shorten(item.label, LABEL_CHARS))} ({_pct(item.probability)})"
             for item in event.labels[:LABELS_SHOWN]]
    more = len(event.labels) - len(shown)
    text = " · ".join(shown) + (f" · +{more}" if more > 0 else "") if shown else "— (none above its threshold)"
    return {"type": "mrkdwn", "text": f"*Labels*\n{text}"}


def label_context(ticket_id: str, category: str, model_version: str) -> str:
    """The block_id of the label menus: the ticket context of the category buttons, marked so both ids differ."""
    return json.dumps({"t": ticket_id, "c": category, "m": model_version, "l": 1}, separators=(",", ":"))


def _option(label: str) -> dict:
    return {"text": {"type": "plain_text", "text": shorten(label, MAX_OPTION_TEXT)}, "value": label[:150]}


def label_actions(event, labels: Iterable[str], block_id: str) -> dict | None:
    """The actions block with the remove/add menus, or None when there is nothing to offer."""
    predicted = list(dict.fromkeys(event.label_names))[:MAX_OPTIONS]
    others = [label for label in dict.fromkeys([*labels, *(k.category for k in event.top_k)])
              if label not in predicted][:MAX_OPTIONS]
    elements = []
    if predicted:
        elements.append({"type": "static_select", "action_id": REMOVE_LABEL_ACTION,
                         "placeholder": {"type": "plain_text", "text": "Remove a label…"},
                         "options": [_option(label) for label in predicted]})
    if others:
        elements.append({"type": "static_select", "action_id": ADD_LABEL_ACTION,
                         "placeholder": {"type": "plain_text", "text": "Add a label…"},
                         "options": [_option(label) for label in others]})
    return {"type": "actions", "block_id": block_id, "elements": elements} if elements else None
