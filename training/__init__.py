"""Offline training: embedder build/export, data sources, features, LightGBM, evaluation, registry."""
