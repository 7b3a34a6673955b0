"""DARTS search space: random-label supernet, angle evolution under FLOPs limits, retraining."""
from . import space  # noqa: F401 - registers the space
