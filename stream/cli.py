"""``python -m stream <command>``: one module per subcommand in ``stream/commands/``.

To add a command, drop a module in ``stream/commands/`` defining ``NAME``,
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``; it is found
automatically. Keep its top-level imports light (argparse only): heavy
imports (Faust, ONNX Runtime) belong inside ``run`` so ``--help`` and the
other commands stay fast. ``SETTINGS`` (optional) names the settings classes
the command reads: their variables are listed in its ``--help``. Logging is
configured here, once, from ``TICKETS_LOG_LEVEL``/``TICKETS_LOG_FORMAT``; a
command that logs differently defines ``log_options(settings) -> (level, format)``.
"""
from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from types import ModuleType

import stream.commands

REQUIRED = ("NAME", "HELP", "add_arguments", "run")


def settings_classes(paths) -> list:
    """``"module:Class"`` paths (a command's ``SETTINGS``) → the settings classes."""
    classes = []
    for path in paths:
        module, name = path.split(":")
        classes.append(getattr(importlib.import_module(module), name))
    return classes


def variables_epilog(paths) -> str | None:
    """The ``--help`` footer listing every TICKETS_* variable a command reads."""
    if not paths:
        return None
    names = [name for cls in settings_classes(paths) for name in cls.variables()]
    lines, line = [], "reads:"
    for name in names:
        if len(line) + len(name) + 1 > 100:
            lines.append(line)
            line = "  "
        line += " " + name
    return "\n".join(lines + [line]) + "\n(see docs/configuration.md)"


def discover() -> dict[str, ModuleType]:
    """Command name → module, for every module of ``stream.commands``."""
    commands = {}
    for info in sorted(pkgutil.iter_modules(stream.commands.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"stream.commands.{info.name}")
        missing = [attr for attr in REQUIRED if not hasattr(module, attr)]
        if missing:
            raise RuntimeError(f"stream/commands/{info.name}.py lacks {', '.join(missing)}")
        commands[module.NAME] = module
    return commands


def build_parser(commands: dict[str, ModuleType] | None = None, prog: str | None = None) -> argparse.ArgumentParser:
    commands = commands if commands is not None else discover()
    parser = argparse.ArgumentParser(
        prog=prog or "python -m stream",
        description="Real-time IT-ticket classifier: worker, tools and HTTP API. "
                    "Settings come from TICKETS_* environment variables (see README).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in commands.items():
        doc = (module.__doc__ or module.HELP).strip()
        command_parser = sub.add_parser(name, help=module.HELP, description=doc,
                                        epilog=variables_epilog(getattr(module, "SETTINGS", ())),
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
        module.add_arguments(command_parser)
        command_parser.set_defaults(_run=module.run, _log_options=getattr(module, "log_options", None))
    return parser


def version() -> str:
    """The installed distribution's version (a source checkout that was never installed says so)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("ticket-classifier")
    except PackageNotFoundError:
        return "0+unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    """Parse, resolve the settings once, configure logging once, run the command.

    The ``ticket-classifier`` console script and ``python -m stream`` both land here.
    """
    prog = "python -m stream" if sys.argv and sys.argv[0].endswith("__main__.py") else "ticket-classifier"
    args = build_parser(prog=prog).parse_args(argv)
    from stream import logs
    from stream.config import ConfigError, Settings

    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    level, fmt = settings.log_level, settings.log_format
    if args._log_options is not None:
        level, fmt = args._log_options(settings)
    logs.configure(level, fmt)
    return int(args._run(args) or 0)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
