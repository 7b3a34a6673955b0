"""The MobileNet-like (ProxylessNAS) search space: supernet, FLOPs table, angle, search, retraining."""
from . import space  # noqa: F401 - registers the space
