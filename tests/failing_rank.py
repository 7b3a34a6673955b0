"""A torchrun entry for tests: the DARTS retraining stage, where rank ``FAIL_RANK`` fails while reading
its data (a fault injected here: the other ranks go on into DDP and wait for it)."""
import os
import sys

import common.retrain
from common.cli import run
from common.errors import UserError
from darts_search_space.retrain import main

if os.environ.get("RANK") == os.environ.get("FAIL_RANK"):
    def unreadable(*args, **kwargs):
        raise UserError(f"rank {os.environ['RANK']}: the training data cannot be read (injected)")

    common.retrain.build_loaders = unreadable

sys.exit(run(main))
