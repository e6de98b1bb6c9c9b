"""Shared pytest configuration: each family of fixtures lives in its own module."""
pytest_plugins = [
    "tests.fixtures.models",
    "tests.fixtures.kafka",
    "tests.fixtures.snowflake",
    "tests.fixtures.prometheus",
]
