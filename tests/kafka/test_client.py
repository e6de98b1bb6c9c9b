"""Broker settings → aiokafka / Faust configuration, for every protocol and SASL mechanism."""
from __future__ import annotations

import ssl

import pytest
from faust.transport.drivers.aiokafka import credentials_to_aiokafka_auth

from stream.config import ConfigError, Settings
from stream.kafka.client import (
    aiokafka_client_config,
    aiokafka_security,
    bootstrap_servers,
    describe,
    faust_broker_urls,
    faust_credentials,
)

PASSWORD = "pa55-w0rd-never-logged"


def kafka(**env):
    return Settings.from_env({f"TICKETS_{k}": v for k, v in env.items()}).kafka


@pytest.fixture(scope="module")
def cafile(tmp_path_factory):
    """A private CA certificate (self-signed), as a company's Kafka would use."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tickets test CA")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return str(path)


@pytest.mark.parametrize(("bootstrap", "servers"), [
    ("kafka://127.0.0.1:9092", ["127.0.0.1:9092"]),
    ("b1:9092,b2:9093", ["b1:9092", "b2:9093"]),
    ("kafka://b1:9092;kafka://b2:9092/", ["b1:9092", "b2:9092"]),
])
def test_bootstrap_lists(bootstrap, servers):
    settings = kafka(KAFKA_BOOTSTRAP=bootstrap)
    assert bootstrap_servers(settings) == servers
    assert faust_broker_urls(settings) == [f"kafka://{s}" for s in servers]  # never confluent://


def test_plaintext_has_no_credentials():
    settings = kafka()
    assert aiokafka_security(settings) == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(settings) is None
    assert credentials_to_aiokafka_auth(faust_credentials(settings)) == {"security_protocol": "PLAINTEXT"}


def test_tls_uses_the_ca_file(cafile):
    settings = kafka(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE=cafile)
    config = aiokafka_security(settings)
    assert config["security_protocol"] == "SSL"
    assert isinstance(config["ssl_context"], ssl.SSLContext)
    context = config["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    assert any(ca["subject"] == ((("commonName", "tickets test CA"),),) for ca in context.get_ca_certs())
    faust_auth = credentials_to_aiokafka_auth(faust_credentials(settings))
    assert faust_auth["security_protocol"] == "SSL" and isinstance(faust_auth["ssl_context"], ssl.SSLContext)


@pytest.mark.parametrize("mechanism", ["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"])
@pytest.mark.parametrize("protocol", ["SASL_PLAINTEXT", "SASL_SSL"])
def test_sasl_every_mechanism_and_protocol(protocol, mechanism, cafile):
    env = dict(KAFKA_SECURITY_PROTOCOL=protocol, KAFKA_SASL_MECHANISM=mechanism,
               KAFKA_SASL_USERNAME="svc-tickets", KAFKA_SASL_PASSWORD=PASSWORD)
    if protocol == "SASL_SSL":
        env["KAFKA_SSL_CAFILE"] = cafile
    settings = kafka(**env)

    config = aiokafka_client_config(settings, client_id="t")
    assert config["security_protocol"] == protocol
    assert config["sasl_mechanism"] == mechanism
    assert config["sasl_plain_username"] == "svc-tickets" and config["sasl_plain_password"] == PASSWORD
    assert ("ssl_context" in config) == (protocol == "SASL_SSL")

    # Faust reaches aiokafka through its own credentials objects: check what it will pass on.
    faust_auth = credentials_to_aiokafka_auth(faust_credentials(settings))
    assert faust_auth["security_protocol"] == protocol
    assert faust_auth["sasl_mechanism"] == mechanism
    assert faust_auth["sasl_plain_username"] == "svc-tickets" and faust_auth["sasl_plain_password"] == PASSWORD
    assert (faust_auth["ssl_context"] is not None) == (protocol == "SASL_SSL")

    shown = describe(settings)
    assert PASSWORD not in repr(shown) and PASSWORD not in repr(faust_credentials(settings))
    assert PASSWORD not in repr(Settings.from_env({f"TICKETS_{k}": v for k, v in env.items()}).redacted())


def test_sasl_defaults_to_plain_mechanism():
    settings = kafka(KAFKA_SECURITY_PROTOCOL="SASL_PLAINTEXT", KAFKA_SASL_USERNAME="u", KAFKA_SASL_PASSWORD="p")
    assert aiokafka_security(settings)["sasl_mechanism"] == "PLAIN"


@pytest.mark.parametrize(("env", "message"), [
    (dict(KAFKA_SECURITY_PROTOCOL="SASL_SSL", KAFKA_SASL_MECHANISM="PLAIN"), "SASL_USERNAME"),
    (dict(KAFKA_SASL_MECHANISM="SCRAM-SHA-256", KAFKA_SASL_USERNAME="u", KAFKA_SASL_PASSWORD="p"), "SASL_SSL"),
    (dict(KAFKA_SSL_CAFILE="/etc/ca.pem"), "SSL_CAFILE"),
    (dict(KAFKA_SECURITY_PROTOCOL="SSL", KAFKA_SSL_CAFILE="/nonexistent/ca.pem"), "/nonexistent/ca.pem"),
    (dict(KAFKA_BOOTSTRAP=" , "), "TICKETS_KAFKA_BOOTSTRAP"),
])
def test_inconsistent_settings_fail_with_the_variable_to_fix(env, message):
    with pytest.raises(ConfigError, match=message.replace(".", r"\.")):
        aiokafka_client_config(kafka(**env), client_id="t")
