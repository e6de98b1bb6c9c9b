"""Connecting: password or key pair, the emulation over loopback, and no secret in the logs."""
from __future__ import annotations

import logging

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import SecretStr

from stream.downstream.settings import SnowflakeSettings
from stream.sink.connection import connect, connection_kwargs


def test_key_pair_auth_replaces_the_password(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = tmp_path / "rsa_key.p8"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.BestAvailableEncryption(b"pem-pass")))
    settings = SnowflakeSettings.from_env({
        "TICKETS_SNOWFLAKE_ACCOUNT": "xy12345", "TICKETS_SNOWFLAKE_USER": "svc",
        "TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE": str(pem), "TICKETS_SNOWFLAKE_PRIVATE_KEY_FILE_PWD": "pem-pass",
        "TICKETS_SNOWFLAKE_WAREHOUSE": "WH", "TICKETS_SNOWFLAKE_ROLE": "LOADER"})
    kwargs = connection_kwargs(settings)
    assert "password" not in kwargs and kwargs["authenticator"] == "SNOWFLAKE_JWT"
    loaded = serialization.load_der_private_key(kwargs["private_key"], password=None)
    assert loaded.private_numbers() == key.private_numbers()
    assert (kwargs["warehouse"], kwargs["role"], kwargs["account"]) == ("WH", "LOADER", "xy12345")
    assert "host" not in kwargs and "port" not in kwargs  # real Snowflake: the account decides the host


def test_connecting_to_the_emulation_logs_no_password(snowflake_settings, caplog):
    settings = snowflake_settings.model_copy(update={"password": SecretStr("pw-do-not-log-4711")})
    with caplog.at_level(logging.DEBUG):
        conn = connect(settings)
        try:
            assert conn.cursor().execute("SELECT 1 + 1").fetchone() == (2,)
        finally:
            conn.close()
    assert "pw-do-not-log-4711" not in caplog.text
    assert str(settings.port) in caplog.text  # it did log where it connected
