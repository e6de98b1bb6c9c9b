"""List, show, promote or roll back model versions in TICKETS_REGISTRY_DIR; set their aliases.

Runs from the serving image (the Helm promote Job uses it): listing and showing
need no numpy; promote, rollback and ``alias set`` load the version as the
worker would and refuse one that does not load. ``promote`` is ``alias set
champion``; every change is appended to the registry's HISTORY with who and why.
"""
from __future__ import annotations

import json
import sys

#: The aliases (stream.inference.registry.ALIAS_FILES), spelled here so `--help` imports nothing heavy.
ALIASES = ("champion", "challenger")
ACTOR_ENV = "TICKETS_REGISTRY_ACTOR"

NAME = "registry"
HELP = "list, show, promote or roll back model versions; set the champion/challenger aliases"
SETTINGS = ("stream.config:Settings",)


def add_arguments(parser) -> None:
    parser.add_argument("--registry", help="registry folder (default: TICKETS_REGISTRY_DIR)")
    parser.add_argument("--embedder-dir", help="built embedders, to check a version loads before promoting "
                                               "(default: TICKETS_EMBEDDER_DIR)")
    sub = parser.add_subparsers(dest="registry_command", metavar="ACTION", required=True)
    s = sub.add_parser("list", help="versions, newest last; * marks the champion (the promoted one)")
    s.add_argument("--json", action="store_true")
    s.set_defaults(action=_list)
    s = sub.add_parser("show", help="a version's manifest (default: the promoted one)")
    s.add_argument("version", nargs="?")
    s.set_defaults(action=_show)
    s = sub.add_parser("promote", help="make VERSION the champion (refused if it does not load)")
    s.add_argument("version")
    _why(s)
    s.set_defaults(action=_promote)
    s = sub.add_parser("rollback", help="point the champion back at the previously promoted version")
    _why(s)
    s.set_defaults(action=_rollback)
    s = sub.add_parser("history", help="every alias change (who, when, why), oldest first")
    s.add_argument("--alias", choices=ALIASES, help="only this alias's changes")
    s.add_argument("--json", action="store_true")
    s.set_defaults(action=_history)
    alias = sub.add_parser("alias", help="set, unset or show the champion/challenger aliases")
    verbs = alias.add_subparsers(dest="alias_command", metavar="VERB", required=True)
    s = verbs.add_parser("set", help="point ALIAS at VERSION (refused if it does not load)")
    s.add_argument("alias", choices=ALIASES)
    s.add_argument("version")
    _why(s)
    s.set_defaults(action=_alias_set)
    s = verbs.add_parser("unset", help="remove ALIAS (the champion cannot be unset)")
    s.add_argument("alias", choices=ALIASES)
    _why(s)
    s.set_defaults(action=_alias_unset)
    s = verbs.add_parser("show", help="the version each alias points at")
    s.add_argument("--json", action="store_true")
    s.set_defaults(action=_alias_show)


def _why(parser) -> None:
    parser.add_argument("--reason", default="", help="why, kept in HISTORY")
    parser.add_argument("--by", help=f"who, kept in HISTORY (default: ${ACTOR_ENV} or the user name)")


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
    print(f"  {'version':<26} {'created_at':<26} {'labels':>6} {'accuracy':>9} {'macro_f1':>9}  aliases")
    for r in rows:
        acc = f"{r.accuracy:.4f}" if r.accuracy is not None else "n/a"
        f1 = f"{r.macro_f1:.4f}" if r.macro_f1 is not None else "n/a"
        print(f"{'*' if r.promoted else ' '} {r.version:<26} {r.created_at:<26} {r.n_labels:>6} {acc:>9} {f1:>9}  "
              f"{','.join(r.aliases)}".rstrip())
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
    _registry(args).promote(args.version, reason=args.reason, by=args.by)
    print(f"promoted {args.version} (champion)")
    return 0


def _rollback(args) -> int:
    print(f"rolled back to {_registry(args).rollback(reason=args.reason, by=args.by)}")
    return 0


def _history(args) -> int:
    entries = _registry(args).history(args.alias)
    if args.json:
        print(json.dumps(entries, indent=2))
        return 0
    for e in entries:
        why = f"  ({e['reason']})" if e.get("reason") else ""
        print(f"{e['at']}  {e['alias']:<10} {e['action']:<8} {e.get('previous') or '-'} -> "
              f"{e.get('version') or '-'}  by {e.get('by', '?')}{why}")
    return 0


def _alias_set(args) -> int:
    _registry(args).set_alias(args.alias, args.version, reason=args.reason, by=args.by)
    print(f"{args.alias} -> {args.version}")
    return 0


def _alias_unset(args) -> int:
    entry = _registry(args).unset_alias(args.alias, reason=args.reason, by=args.by)
    print(f"{args.alias} unset" if entry else f"{args.alias} was not set")
    return 0


def _alias_show(args) -> int:
    aliases = _registry(args).aliases()
    if args.json:
        print(json.dumps(aliases, indent=2))
        return 0
    for alias in ALIASES:
        print(f"{alias:<10} {aliases.get(alias, '-')}")
    return 0
