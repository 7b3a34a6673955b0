"""A minimal search space that exists to show (and test) the search-space interface: importing the
package registers it (``python -m common.stages STAGE --space examples.chain_space ...``)."""
from . import space  # noqa: F401 - registers the space
