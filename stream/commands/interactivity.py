"""Serve Slack's interactivity requests: verified button clicks become FeedbackEvents.

Point the Slack app's Interactivity Request URL at http(s)://HOST:PORT/slack/interactivity;
needs TICKETS_SLACK_SIGNING_SECRET."""
from __future__ import annotations

NAME = "interactivity"
HELP = "HTTP endpoint turning Slack button clicks into FeedbackEvents"
SETTINGS = ("stream.config:Settings", "stream.downstream.settings:SlackSettings")


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from stream.config import Settings
    from stream.downstream.settings import SlackSettings
    from stream.slack.service import run_interactivity

    settings = Settings.from_env()
    return run_interactivity(settings, SlackSettings.from_env())
