"""What "harmless" means for a Slack message built from hostile fields: no ping, no link but ours."""
from __future__ import annotations

import re


def _our_link(template: str) -> re.Pattern:
    prefix = re.escape(template.split("{ticket_id}", 1)[0])
    return re.compile(f"<{prefix}[^<>|\\s]*\\|[^<>]*>")


def links(text: str, template: str) -> list[str]:
    """The ``<url|label>`` links to our ticket URL in ``text``."""
    return _our_link(template).findall(text)


def _mrkdwn_texts(message: dict) -> list[str]:
    """Every string Slack renders as mrkdwn: the fallback text and each mrkdwn object."""
    texts = [message["text"]]
    for block in message["blocks"]:
        for obj in [block.get("text"), *(block.get("fields") or []), *(block.get("elements") or [])]:
            if obj and obj.get("type") == "mrkdwn":
                texts.append(obj["text"])
    return texts


def assert_harmless(message: dict, template: str) -> None:
    """Every mrkdwn text of ``message``: no ``<…>`` but our ticket link, no broadcast, every ``&`` escaped."""
    for text in _mrkdwn_texts(message):
        outside_our_link = _our_link(template).sub("", text).replace("\n>", "\n")  # our own quote marker
        assert "<" not in outside_our_link and ">" not in outside_our_link, text  # no other link, no <!…>, <@…>, <#…>
        assert not re.search(r"[@＠](channel|here|everyone)\b", text, re.IGNORECASE), text
        for link in links(text, template):
            assert "&" not in re.sub(r"&(amp|lt|gt);", "", link), link  # every & of the link escaped
