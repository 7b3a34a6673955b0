"""NAS-Bench-201 search space: RLNAS end to end."""
from . import space  # noqa: F401 - registers the space
