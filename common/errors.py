"""The one exception type for bad user input (configs, architecture strings, checkpoints, messages)."""


class UserError(Exception):
    """Bad input from the user: reported as one line on stderr with exit code 2 (see common.cli)."""
