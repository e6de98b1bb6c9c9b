"""Shared pytest configuration: each family of fixtures lives in its own module."""
pytest_plugins = [
    "tests.fixtures.models",
    "tests.fixtures.kafka",
    "tests.fixtures.snowflake",
    "tests.fixtures.prometheus",
    "tests.fixtures.slack",
    "tests.fixtures.worker",
]

# Property-based tests: bounded so the suite stays fast (HYPOTHESIS_PROFILE=deep for a longer hunt).
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("tickets", max_examples=60, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile("deep", parent=settings.get_profile("tickets"), max_examples=2000)
settings.load_profile(__import__("os").environ.get("HYPOTHESIS_PROFILE", "tickets"))
