"""Kafka plumbing shared by the worker, the downstream consumers and the dev tools."""
