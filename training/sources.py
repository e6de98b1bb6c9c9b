"""Where historical tickets come from: one interface, local files or Snowflake.

A source yields pandas DataFrames in chunks so a large table never has to be
in memory at once; :mod:`training.prepare` cleans each chunk as it arrives.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Iterator, Mapping, Protocol

import pandas as pd

from .config import DataConfig, FeedbackConfig, SnowflakeConfig
from .exceptions import DataSourceError

log = logging.getLogger(__name__)

DEFAULT_CHUNK_ROWS = 20_000


class DataSource(Protocol):
    """Anything that yields ticket rows in chunks and can say what it read."""

    def batches(self) -> Iterator[pd.DataFrame]: ...

    def describe(self) -> str: ...


class LocalFileSource:
    """CSV, CSV.gz or Parquet on local disk."""

    def __init__(self, path, chunk_rows: int = DEFAULT_CHUNK_ROWS):
        self.path = Path(path).expanduser()
        self.chunk_rows = chunk_rows
        if not self.path.is_file():
            raise DataSourceError(f"data file not found: {self.path}")

    def describe(self) -> str:
        return f"file:{self.path.name}"

    def batches(self) -> Iterator[pd.DataFrame]:
        name = self.path.name.lower()
        try:
            if name.endswith((".parquet", ".pq")):
                import pyarrow.parquet as pq

                for batch in pq.ParquetFile(self.path).iter_batches(batch_size=self.chunk_rows):
                    yield batch.to_pandas()
            elif name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
                sep = "\t" if ".tsv" in name else ","
                yield from pd.read_csv(self.path, sep=sep, chunksize=self.chunk_rows, dtype=str,
                                       keep_default_na=False, na_values=[""])
            else:
                raise DataSourceError(f"unsupported data file type: {self.path.name} (csv, csv.gz or parquet)")
        except (OSError, ValueError) as exc:
            raise DataSourceError(f"cannot read {self.path}: {exc}") from exc


class SnowflakeSource:
    """A parameterised query, streamed with ``fetchmany``: never the whole table in memory."""

    def __init__(self, query: str, connection: Mapping, params: Mapping | None = None,
                 chunk_size: int = 5000):
        if not query.strip():
            raise DataSourceError("the Snowflake source needs a query (data.snowflake.query)")
        self.query = query
        self.connection = dict(connection)
        self.params = dict(params or {})
        self.chunk_size = chunk_size

    def describe(self) -> str:
        return f"snowflake:{self.connection.get('database', '')}.{self.connection.get('schema', '')}"

    def batches(self) -> Iterator[pd.DataFrame]:
        try:
            import snowflake.connector
        except ImportError as exc:  # pragma: no cover - the dependency is part of the base install
            raise DataSourceError("install snowflake-connector-python to read from Snowflake") from exc
        try:
            conn = snowflake.connector.connect(**self.connection)
        except Exception as exc:  # noqa: BLE001 - the connector raises many types
            raise DataSourceError(f"cannot connect to Snowflake: {exc}") from exc
        try:
            cur = conn.cursor()
            cur.execute(self.query, self.params or None)
            columns = [d[0] for d in cur.description]
            while True:
                rows = cur.fetchmany(self.chunk_size)
                if not rows:
                    break
                yield pd.DataFrame.from_records(rows, columns=columns)
        except DataSourceError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise DataSourceError(f"Snowflake query failed: {exc}") from exc
        finally:
            conn.close()


def make_source(data: DataConfig) -> DataSource:
    if data.source == "snowflake":
        return snowflake_source(data.snowflake)
    if not data.path:
        raise DataSourceError("no data file given (--data or data.path)")
    return LocalFileSource(data.path)


def snowflake_source(cfg: SnowflakeConfig) -> SnowflakeSource:
    return SnowflakeSource(cfg.query, cfg.connection, cfg.params, cfg.chunk_size)


def load_corrections(cfg: FeedbackConfig, connection: Mapping | None = None) -> pd.DataFrame | None:
    """The feedback table (ticket_id, corrected_category, at), or None when none is configured."""
    if cfg.path:
        frames = list(LocalFileSource(cfg.path).batches())
    elif cfg.query:
        frames = list(SnowflakeSource(cfg.query, connection or {}).batches())
    else:
        return None
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    return df.rename(columns=lambda c: str(c).lower())
