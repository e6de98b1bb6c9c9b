"""Subcommands of ``python -m stream``, one module each (see ``stream/cli.py`` for the contract)."""
