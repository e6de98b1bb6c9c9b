"""List, show, promote or roll back model versions in TICKETS_REGISTRY_DIR.

Runs from the serving image (the Helm promote Job uses it): listing and showing
need no numpy; promote and rollback load the version as the worker would and
refuse one that does not load.
"""
from __future__ import annotations

import json
import sys

NAME = "registry"
HELP = "list, show, promote or roll back model versions"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("--registry", help="registry folder (default: TICKETS_REGISTRY_DIR)")
    parser.add_argument("--embedder-dir", help="built embedders, to check a version loads before promoting "
                                               "(default: TICKETS_EMBEDDER_DIR)")
    sub = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    s = sub.add_parser("list", help="versions, newest last; * marks the promoted one")
    s.add_argument("--json", action="store_true")
    s.set_defaults(action=_list)
    s = sub.add_parser("show", help="a version's manifest (default: the promoted one)")
    s.add_argument("version", nargs="?")
    s.set_defaults(action=_show)
    s = sub.add_parser("promote", help="point PROMOTED at VERSION (refused if it does not load)")
    s.add_argument("version")
    s.set_defaults(action=_promote)
    s = sub.add_parser("rollback", help="go back to the previously promoted version")
    s.set_defaults(action=_rollback)


def run(args) -> int:
    from stream.inference.exceptions import RegistryError

    try:
        return args.action(args)
    except RegistryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _registry(args):
    from stream.config import Settings
    from stream.inference.registry import Registry

    settings = Settings.from_env()
    return Registry(args.registry or settings.registry_dir, args.embedder_dir or settings.embedder_dir)


def _list(args) -> int:
    reg = _registry(args)
    rows = reg.list()
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
        return 0
    if not rows:
        print(f"no model versions in {reg.root}")
        return 0
    print(f"  {'version':<26} {'created_at':<26} {'labels':>6} {'accuracy':>9} {'macro_f1':>9}")
    for r in rows:
        acc = f"{r.accuracy:.4f}" if r.accuracy is not None else "n/a"
        f1 = f"{r.macro_f1:.4f}" if r.macro_f1 is not None else "n/a"
        print(f"{'*' if r.promoted else ' '} {r.version:<26} {r.created_at:<26} {r.n_labels:>6} {acc:>9} {f1:>9}")
    return 0


def _show(args) -> int:
    reg = _registry(args)
    version = args.version or reg.promoted_version()
    if not version:
        print("error: no version given and none promoted", file=sys.stderr)
        return 2
    print(json.dumps(reg.show(version), indent=2))
    return 0


def _promote(args) -> int:
    _registry(args).promote(args.version)
    print(f"promoted {args.version}")
    return 0


def _rollback(args) -> int:
    print(f"rolled back to {_registry(args).rollback()}")
    return 0
