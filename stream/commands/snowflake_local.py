"""Run the local Snowflake emulation (fakesnow + DuckDB files) and print its connection settings.

Listens on TICKETS_SNOWFLAKE_HOST:TICKETS_SNOWFLAKE_PORT (127.0.0.1:8085), keeps
its data under TICKETS_SNOWFLAKE_LOCAL_DB_PATH (artifacts/snowflake)."""
from __future__ import annotations

NAME = "snowflake-local"
HELP = "run the local Snowflake emulation for the demo"
SETTINGS = ("stream.config:Settings", "stream.downstream.settings:SnowflakeSettings")


def add_arguments(parser) -> None:
    parser.add_argument("--port", type=int, default=None, help="listen port (default: TICKETS_SNOWFLAKE_PORT or 8085)")
    parser.add_argument("--db-path", default=None, help="folder of the DuckDB files (default: artifacts/snowflake)")


def run(args) -> int:

    from stream.config import Settings
    from stream.downstream.settings import SnowflakeSettings
    from stream.devtools.snowflake_local import run_snowflake_local

    settings = Settings.from_env()
    snowflake = SnowflakeSettings.from_env()
    overrides = {k: v for k, v in (("port", args.port), ("local_db_path", args.db_path)) if v is not None}
    return run_snowflake_local(snowflake.model_copy(update=overrides))
