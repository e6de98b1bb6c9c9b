"""A sink that writes its first batch to Snowflake, then hangs before committing.

Run as ``python -m tests.sink.crashing_sink MARKER`` with the usual TICKETS_*
variables; it touches MARKER once the batch is confirmed by Snowflake, so the
test can ``kill -9`` it in the window between write and commit.
"""
from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from stream.config import Settings
from stream.downstream.loop import ConsumerLoop
from stream.downstream.settings import SnowflakeSettings
from stream.sink.runner import SnowflakeSink


async def _hang_instead_of_committing(self, offsets) -> None:
    Path(sys.argv[1]).write_text(str(sum(offsets.values())))
    await asyncio.sleep(3600)


def main() -> None:
    ConsumerLoop._commit = _hang_instead_of_committing
    sink = SnowflakeSink(Settings.from_env(), SnowflakeSettings.from_env())
    asyncio.run(sink.run())


if __name__ == "__main__":
    main()
