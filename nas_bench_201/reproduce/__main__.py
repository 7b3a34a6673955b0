import sys

from common.cli import run

from .cli import main

sys.exit(run(main))
