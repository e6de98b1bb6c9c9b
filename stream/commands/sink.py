"""Write classified and feedback events to Snowflake in batches (idempotent MERGE).

Offsets are committed only after Snowflake confirmed the batch. Without
TICKETS_SNOWFLAKE_ACCOUNT it writes to the local emulation (python -m stream snowflake-local)."""
from __future__ import annotations

NAME = "sink"
HELP = "write classified tickets and feedback to Snowflake"
SETTINGS = ("stream.config:Settings", "stream.downstream.settings:SnowflakeSettings")


def add_arguments(parser) -> None:
    pass


def run(args) -> int:
    from stream.config import Settings
    from stream.downstream.settings import SnowflakeSettings
    from stream.sink.service import run_sink

    settings = Settings.from_env()
    return run_sink(settings, SnowflakeSettings.from_env())
