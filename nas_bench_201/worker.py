"""Distributed search: serve candidate evaluation for NAS-Bench-201 searches over RabbitMQ.

The shared stage ``common.stages.worker`` on this space; ``--help`` lists the arguments.
"""
import sys

from common.cli import run
from common.stages import command

from .space import SPACE

main = command("worker", SPACE)

if __name__ == "__main__":
    sys.exit(run(main))
