"""Slack notifier and interactivity endpoint: classified tickets to channels, button clicks to feedback."""
