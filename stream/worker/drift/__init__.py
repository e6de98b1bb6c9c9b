"""Drift of the served traffic against the serving version's training reference (stream/inference/drift.py)."""
