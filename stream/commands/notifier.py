"""Post each classified ticket to Slack: the category's channel, or triage when it needs a human.

Reads tickets.classified in its own consumer group; commits after posting.
Without TICKETS_SLACK_BOT_TOKEN it only logs what it would post."""
from __future__ import annotations

NAME = "notifier"
HELP = "post classified tickets to Slack (dry run without a token)"
SETTINGS = ("stream.config:Settings", "stream.downstream.settings:SlackSettings")


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from stream.config import Settings
    from stream.downstream.settings import SlackSettings
    from stream.slack.service import run_notifier

    settings = Settings.from_env()
    return run_notifier(settings, SlackSettings.from_env())
