"""The embedded demo: the whole system on one machine, no external services."""
