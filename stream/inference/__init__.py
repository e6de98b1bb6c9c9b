"""The inference path shared by training and serving: clean → embed → booster → thresholds."""
