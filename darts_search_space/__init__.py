"""DARTS search space: random-label supernet, angle evolution under FLOPs limits, retraining."""
