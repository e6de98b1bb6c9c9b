"""Hostile values in every field of a ClassifiedEvent: no ping, no foreign link, in the blocks and as posted."""
from __future__ import annotations

import asyncio

import pytest

from schemas.models import ClassifiedEvent
from stream.downstream.settings import SlackSettings
from stream.slack import metrics as slack_metrics
from stream.slack.blocks import build_message
from stream.slack.poster import SlackPoster, make_client
from tests.fixtures.downstream import classified_event
from tests.fixtures.slack import TOKEN
from tests.slack.harmless import assert_harmless, links

TEMPLATE = "https://desk.example.com/t/{ticket_id}?view=full&tab=1"
CASE_6 = "INJ-9> <!channel> <https://evil.example|click"
HOSTILE = [
    CASE_6,
    "<!channel>", "<!here>", "<!everyone>", "<!subteam^S123>", "<@U0ADMIN>", "<#C0GENERAL|general>",
    "@channel please", "@here", "@everyone", "＠channel", "<https://evil.example|click here>", "<mailto:x@evil.example>",
    "&lt;!channel&gt;", "a|b>c<d&e", "`code` *bold* ~strike~ >quote",
]
# (field, how to put the hostile value in the event); source is a Literal and cannot carry text
FIELDS = {
    "ticket_id": lambda v: {"ticket_id": v},
    "subject": lambda v: {"subject": v},
    "excerpt": lambda v: {"excerpt": v},
    "category": lambda v: {"category": v, "top_k": [{"category": v, "probability": 0.6},
                                                      {"category": "Storage", "probability": 0.4}]},
    "runner_up": lambda v: {"top_k": [{"category": "Access", "probability": 0.6}, {"category": v, "probability": 0.4}]},
    "model_version": lambda v: {"model_version": v},
    "needs_human_category": lambda v: {"category": v, "needs_human": True},
}


def _event(field: str, value: str) -> ClassifiedEvent:
    overrides = FIELDS[field](value)
    return ClassifiedEvent.model_validate(classified_event(overrides.pop("ticket_id", "INC-1"), **overrides))


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", sorted(FIELDS))
def test_hostile_value_in_any_field_cannot_ping_or_link(field, value):
    event = _event(field, value)
    message = build_message(event, channel="#it-x", labels=("Access",), ticket_url_template=TEMPLATE,
                            excerpt_chars=200)
    assert_harmless(message, TEMPLATE)
    assert message["unfurl_links"] is False and message["unfurl_media"] is False


def test_case_6_ticket_id_is_url_encoded_into_our_link_and_shown_as_text():
    message = build_message(_event("ticket_id", CASE_6), channel="#it-x", labels=(), ticket_url_template=TEMPLATE,
                            excerpt_chars=200)
    title = message["blocks"][0]["text"]["text"]
    [link] = links(title, TEMPLATE)
    url, label = link[1:-1].split("|", 1)
    assert url == ("https://desk.example.com/t/INJ-9%3E%20%3C%21channel%3E%20%3Chttps%3A%2F%2Fevil.example%7Cclick"
                   "?view=full&amp;tab=1")
    assert label == "INJ-9&gt; &lt;!channel&gt; &lt;https://evil.example|click"
    assert message["metadata"]["event_payload"]["ticket_id"] == CASE_6  # metadata is data, never rendered


def test_what_the_slack_double_receives_is_harmless_in_every_field(fake_slack):
    """The real slack-sdk client serialises the blocks; the double records what Slack would render."""
    slack = SlackSettings.from_env({"TICKETS_SLACK_BOT_TOKEN": TOKEN, "TICKETS_SLACK_API_URL": fake_slack.url})

    async def post_all() -> int:
        poster = SlackPoster(make_client(slack), slack, slack_metrics.create())
        try:
            for field in FIELDS:
                for value in HOSTILE:
                    message = build_message(_event(field, value), channel="#it-access", labels=("Access",),
                                            ticket_url_template=TEMPLATE, excerpt_chars=200)
                    await poster.post(message)
        finally:
            await poster.close()
        return len(FIELDS) * len(HOSTILE)

    sent = asyncio.run(post_all())
    posted = fake_slack.posted()
    assert len(posted) == sent
    for message in posted:
        assert_harmless(message, TEMPLATE)
