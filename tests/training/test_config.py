"""Training configuration: YAML overrides, validation of bad values and unknown keys."""
from __future__ import annotations

import re

import pytest

from training.config import load_config
from training.exceptions import ConfigError


def test_defaults_are_valid():
    config = load_config()
    assert config.feature_blocks == ("embedding", "lexical", "knn")
    assert config.lightgbm.device_type == "cpu"
    assert config.as_dict()["data"]["columns"]["label"] == "Topic_group"


def test_yaml_overrides_nested_values(tmp_path):
    path = tmp_path / "train.yaml"
    path.write_text("feature_blocks: [lexical]\nlightgbm:\n  device_type: cuda\n  num_leaves: 15\n"
                    "data:\n  columns:\n    text: [subject, body]\n    label: category\n"
                    "resample:\n  undersample_cap: 5000\n")
    config = load_config(path)
    assert config.feature_blocks == ("lexical",)
    assert (config.lightgbm.device_type, config.lightgbm.num_leaves) == ("cuda", 15)
    assert config.data.columns.text == ("subject", "body")
    assert config.resample.undersample_cap == 5000
    assert config.lightgbm.learning_rate == load_config().lightgbm.learning_rate  # untouched defaults stay


@pytest.mark.parametrize("yaml_text, message", [
    ("lightgbm:\n  num_leafs: 3\n", "unknown setting 'lightgbm.num_leafs'"),
    ("feature_blocks: [tfidf]\n", "feature blocks must be"),
    ("lightgbm:\n  device_type: tpu\n", "device_type"),
    ("thresholds:\n  target_precision: 1.5\n", "target_precision"),
    ("data:\n  source: excel\n", "data.source"),
    ("data: [1, 2]\n", "must be a mapping"),
])
def test_bad_config_is_rejected_with_the_key(tmp_path, yaml_text, message):
    path = tmp_path / "bad.yaml"
    path.write_text(yaml_text)
    with pytest.raises((ConfigError, ValueError), match=message):
        load_config(path)


def test_secrets_are_redacted_in_the_recorded_config():
    config = load_config().replace(data={"snowflake": {"connection": {"user": "u", "password": "p"}}})
    assert config.as_dict()["data"]["snowflake"]["connection"] == {"user": "u", "password": "***"}


def test_blend_settings_are_validated():
    from training.config import TrainConfig

    assert TrainConfig().blend.enabled and TrainConfig().as_dict()["blend"]["lexical_weight"] is None
    with pytest.raises(ConfigError, match="blend weights"):
        TrainConfig().replace(blend={"weights": [0.2, 1.5]})
    with pytest.raises(ConfigError, match="blend weights"):
        TrainConfig().replace(blend={"lexical_weight": -0.1})
    assert TrainConfig().replace(blend={"lexical_weight": 0.3}).blend.lexical_weight == 0.3


def test_route_settings_are_validated():
    from training.config import TrainConfig

    assert TrainConfig().route.enabled and TrainConfig().route.low <= TrainConfig().route.high
    with pytest.raises(ConfigError, match="route.low"):
        TrainConfig().replace(route={"low": 0.8, "high": 0.5})
    with pytest.raises(ConfigError, match="route.low"):
        TrainConfig().replace(route={"high": 1.5})


@pytest.mark.parametrize("yaml_text, key", [
    ("lightgbm:\n  learning_rate: abc\n", "lightgbm.learning_rate"),
    ("lightgbm:\n  learnin_rate: 0.1\n", "unknown setting 'lightgbm.learnin_rate'"),
    ("data:\n  columns:\n    text: 5\n", "data.columns.text"),
    ("neighbours:\n  k: [1, 2]\n", "neighbours.k"),
])
def test_a_wrong_type_or_a_typo_is_an_error_naming_the_key(tmp_path, yaml_text, key):
    path = tmp_path / "typo.yaml"
    path.write_text(yaml_text)
    with pytest.raises(ConfigError, match=re.escape(key)):
        load_config(path)


def test_the_two_config_errors_share_the_project_root():
    from schemas.errors import ConfigError as RootConfigError, TicketClassifierError
    from stream.exceptions import ConfigError as StreamConfigError

    assert issubclass(ConfigError, RootConfigError) and issubclass(StreamConfigError, RootConfigError)
    assert issubclass(RootConfigError, TicketClassifierError)
