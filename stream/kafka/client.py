"""Broker connection settings → the keyword arguments aiokafka and Faust expect.

One place turns ``TICKETS_KAFKA_*`` (bootstrap list, security protocol, SASL
mechanism and credentials, CA file) into client configuration, so the worker
(Faust), the admin client creating topics and the replay producer (aiokafka)
always connect the same way. Passwords never leave the returned objects: use
:func:`describe` for logs.
"""
from __future__ import annotations

import ssl

from stream.config import ConfigError, KafkaSettings

SASL_PROTOCOLS = ("SASL_PLAINTEXT", "SASL_SSL")
TLS_PROTOCOLS = ("SSL", "SASL_SSL")


def bootstrap_servers(kafka: KafkaSettings) -> list[str]:
    """``host:port`` entries of ``TICKETS_KAFKA_BOOTSTRAP`` (``kafka://`` prefixes, commas or semicolons)."""
    servers = []
    for part in kafka.bootstrap.replace(";", ",").split(","):
        part = part.strip()
        if part.startswith("kafka://"):
            part = part[len("kafka://"):]
        part = part.rstrip("/")
        if part:
            servers.append(part)
    if not servers:
        raise ConfigError("TICKETS_KAFKA_BOOTSTRAP is empty; give host:port[,host:port...]")
    return servers


def faust_broker_urls(kafka: KafkaSettings) -> list[str]:
    """Broker URLs for Faust: always ``kafka://`` (Faust's ``confluent://`` hangs with Tansu)."""
    return [f"kafka://{server}" for server in bootstrap_servers(kafka)]


def sasl_mechanism(kafka: KafkaSettings) -> str | None:
    """The SASL mechanism in force, checking the protocol and credentials agree with it."""
    protocol = kafka.security_protocol
    if protocol not in SASL_PROTOCOLS:
        if kafka.sasl_mechanism:
            raise ConfigError(
                f"TICKETS_KAFKA_SASL_MECHANISM={kafka.sasl_mechanism} needs "
                f"TICKETS_KAFKA_SECURITY_PROTOCOL=SASL_SSL or SASL_PLAINTEXT (it is {protocol})"
            )
        return None
    if not kafka.sasl_username or not kafka.sasl_password.get_secret_value():
        raise ConfigError(
            f"TICKETS_KAFKA_SECURITY_PROTOCOL={protocol} needs TICKETS_KAFKA_SASL_USERNAME "
            "and TICKETS_KAFKA_SASL_PASSWORD"
        )
    return kafka.sasl_mechanism or "PLAIN"


def ssl_context(kafka: KafkaSettings) -> ssl.SSLContext | None:
    """TLS context for SSL / SASL_SSL: system CAs, plus ``TICKETS_KAFKA_SSL_CAFILE`` when set."""
    if kafka.security_protocol not in TLS_PROTOCOLS:
        if kafka.ssl_cafile:
            raise ConfigError(
                "TICKETS_KAFKA_SSL_CAFILE is set but TICKETS_KAFKA_SECURITY_PROTOCOL "
                f"is {kafka.security_protocol}; use SSL or SASL_SSL"
            )
        return None
    try:
        context = ssl.create_default_context(purpose=ssl.Purpose.SERVER_AUTH, cafile=kafka.ssl_cafile or None)
    except (FileNotFoundError, ssl.SSLError) as exc:
        raise ConfigError(f"TICKETS_KAFKA_SSL_CAFILE={kafka.ssl_cafile!r} cannot be used: {exc}") from None
    return context


def aiokafka_security(kafka: KafkaSettings) -> dict:
    """Security keyword arguments for ``AIOKafkaProducer``/``Consumer``/``AdminClient``."""
    mechanism = sasl_mechanism(kafka)
    context = ssl_context(kafka)
    config: dict = {"security_protocol": kafka.security_protocol}
    if context is not None:
        config["ssl_context"] = context
    if mechanism is not None:
        config["sasl_mechanism"] = mechanism
        config["sasl_plain_username"] = kafka.sasl_username
        config["sasl_plain_password"] = kafka.sasl_password.get_secret_value()
    return config


def aiokafka_client_config(kafka: KafkaSettings, client_id: str) -> dict:
    """Everything an aiokafka client needs to reach the broker."""
    return {"bootstrap_servers": bootstrap_servers(kafka), "client_id": client_id, **aiokafka_security(kafka)}


def faust_credentials(kafka: KafkaSettings):
    """``broker_credentials`` for the Faust app (``None`` for PLAINTEXT)."""
    import faust  # deferred: the classify command and replay do not need Faust

    mechanism = sasl_mechanism(kafka)
    context = ssl_context(kafka)
    if mechanism is not None:
        # SASLCredentials picks SASL_SSL when given a context, SASL_PLAINTEXT otherwise.
        return faust.SASLCredentials(
            username=kafka.sasl_username,
            password=kafka.sasl_password.get_secret_value(),
            ssl_context=context,
            mechanism=mechanism,
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def describe(kafka: KafkaSettings) -> dict:
    """How we connect, for logs and /readyz: never the password."""
    return {
        "bootstrap": bootstrap_servers(kafka),
        "security_protocol": kafka.security_protocol,
        "sasl_mechanism": sasl_mechanism(kafka),
        "sasl_username": kafka.sasl_username or None,
        "ssl_cafile": kafka.ssl_cafile or None,
    }
