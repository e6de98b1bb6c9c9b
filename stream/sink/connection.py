"""Opening a Snowflake connection from :class:`SnowflakeSettings`.

The same code reaches real Snowflake (account + password or key pair) and the
local emulation (host/port/protocol over loopback): only the settings differ.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from stream.downstream.settings import SnowflakeSettings

log = logging.getLogger(__name__)


def connection_kwargs(settings: SnowflakeSettings) -> dict[str, Any]:
    """Keyword arguments for ``snowflake.connector.connect`` (contains secrets: never log)."""
    kwargs: dict[str, Any] = {
        "account": settings.account,
        "user": settings.user,
        "database": settings.database,
        "schema": settings.schema,
        # timestamps are written and read as UTC whatever the account's default is
        "session_parameters": {"TIMEZONE": "UTC", "CLIENT_OUT_OF_BAND_TELEMETRY_ENABLED": False},
        "client_session_keep_alive": False,
        "login_timeout": 30,
        "network_timeout": 60,
    }
    for name in ("warehouse", "role", "host", "protocol"):
        if value := getattr(settings, name):
            kwargs[name] = value
    if settings.port:
        kwargs["port"] = settings.port
    if settings.private_key_file:
        kwargs["private_key"] = _load_private_key(settings)
        kwargs["authenticator"] = "SNOWFLAKE_JWT"
    else:
        kwargs["password"] = settings.password.get_secret_value()
    return kwargs


def _load_private_key(settings: SnowflakeSettings) -> bytes:
    from cryptography.hazmat.primitives import serialization

    pem = Path(settings.private_key_file).read_bytes()
    key = serialization.load_pem_private_key(pem, password=settings.private_key_file_pwd.get_secret_value().encode() or None)
    return key.private_bytes(
        encoding=serialization.Encoding.DER,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )


def connect(settings: SnowflakeSettings):
    """A new connection (autocommit on: each MERGE is its own transaction)."""
    import snowflake.connector

    where = f"{settings.host}:{settings.port}" if settings.host else settings.account
    log.info("connecting to Snowflake", extra={"where": where, "user": settings.user,
                                               "database": settings.database, "schema": settings.schema})
    return snowflake.connector.connect(**connection_kwargs(settings))
