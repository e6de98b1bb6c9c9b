"""The event models' JSON Schemas as API documents embed them (OpenAPI ``components.schemas``, AsyncAPI too).

Both documents are generated from the same pydantic models the code validates
with, in JSON Schema 2020-12 (what pydantic writes, and what OpenAPI 3.1 and
AsyncAPI 3.0 accept), with nested models as shared components.
"""
from __future__ import annotations

from pydantic.json_schema import models_json_schema

from schemas.models import MODELS

REF = "#/components/schemas/{model}"


def component_schemas(models) -> tuple[dict, dict]:
    """(model → ``{"$ref": ...}``, every schema for ``components.schemas``) of ``models`` (validation mode)."""
    refs, top = models_json_schema([(model, "validation") for model in models], ref_template=REF)
    return {model: ref for (model, _), ref in refs.items()}, top.get("$defs", {})


def contract_versions() -> str:
    """The ``info.version`` of the documents: the current version of each event contract."""
    return ", ".join(f"{name} v{model.model_fields['schema_version'].default}" for name, model in MODELS.items())
