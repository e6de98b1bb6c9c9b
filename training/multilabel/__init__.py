"""Multi-label training: label sets, per-label models on the shared feature blocks, per-label thresholds."""
