"""The end-to-end tests reuse the Slack double and its settings from the Slack tests."""
from tests.slack.conftest import fake_slack, slack_env  # noqa: F401  (pytest fixtures)
