"""Docs that must match the code: every setting the code reads is documented, and nothing more."""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_configuration_page_is_generated_from_the_settings_classes():
    from stream.commands.config import SETTINGS, markdown
    from stream.cli import settings_classes

    expected = markdown(settings_classes(SETTINGS))
    actual = (ROOT / "docs" / "configuration.md").read_text()
    assert actual == expected, "docs/configuration.md is stale: python -m stream config --markdown > docs/configuration.md"


def test_every_setting_has_a_description():
    from stream.commands.config import SETTINGS
    from stream.cli import settings_classes

    for cls in settings_classes(SETTINGS):
        for variable, (group, name) in cls.variables().items():
            assert (group.model_fields[name].description or "").strip(), f"{variable} has no description"


def test_readme_commands_exist_in_the_makefile():
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in re.findall(r"^make (\w+)", readme, flags=re.M):
        assert re.search(rf"^{target}:", makefile, flags=re.M), f"README runs `make {target}`, Makefile lacks it"
    assert "make demo" in readme and "make test" in readme
