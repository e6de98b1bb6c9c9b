"""Generate the API documents from the code: OpenAPI 3.1 (the worker's HTTP API) and AsyncAPI 3.0 (the topics).

Both come from the pydantic models (schemas/models.py, stream/worker/api_models.py)
and the header rules (stream/kafka/headers.py). --write refreshes the committed
copies in docs/api/; --check (the default) exits 1 when they differ from the
code, as the tests do; --print shows one. Examples:
  python -m stream api-docs --write
  python -m stream api-docs --print openapi | jq '.paths | keys'"""
from __future__ import annotations

from pathlib import Path

NAME = "api-docs"
HELP = "generate docs/api/openapi.json and docs/api/asyncapi.json from the models (--write, --check)"
FILES = {"openapi": "openapi.json", "asyncapi": "asyncapi.json"}


def add_arguments(parser) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--write", action="store_true", help="write both documents into --dir")
    group.add_argument("--check", action="store_true",
                       help="exit 1 when a document in --dir differs from the code (the default)")
    group.add_argument("--print", choices=sorted(FILES), default=None, help="print one document")
    parser.add_argument("--dir", type=Path, default=Path("docs/api"), help="where the documents live (docs/api)")


def documents() -> dict[str, str]:
    """File name → text of each document, exactly as committed (sorted keys would lose the reading order)."""
    import json

    from stream.kafka.asyncapi import asyncapi_document
    from stream.worker.openapi import openapi_document

    built = {"openapi": openapi_document(), "asyncapi": asyncapi_document()}
    return {FILES[name]: json.dumps(document, indent=2, ensure_ascii=False) + "\n" for name, document in built.items()}


def run(args) -> int:
    import sys

    texts = documents()
    if args.print:
        print(texts[FILES[args.print]], end="")
        return 0
    if args.write:
        args.dir.mkdir(parents=True, exist_ok=True)
        for name, text in texts.items():
            (args.dir / name).write_text(text, encoding="utf-8")
            print(f"wrote {args.dir / name}")
        return 0
    stale = [name for name, text in texts.items()
             if not (args.dir / name).is_file() or (args.dir / name).read_text(encoding="utf-8") != text]
    if stale:
        print(f"stale: {', '.join(str(args.dir / n) for n in stale)}; run: python -m stream api-docs --write",
              file=sys.stderr)
        return 1
    print(f"up to date: {', '.join(str(args.dir / n) for n in texts)}")
    return 0
