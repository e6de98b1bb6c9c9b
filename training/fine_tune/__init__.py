"""Supervised fine-tuning of a built embedder on labelled tickets (``python -m training fine-tune-embedder``).

The kNN block reads "tickets like this one were …" from the embedding space; a space shaped by
our labels moves the whole stack. torch and sentence-transformers are imported only inside the
functions that train, so ``--help`` and the serving code never load them.
"""
