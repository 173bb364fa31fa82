"""Entry point of the scheduler service: `python scheduler/main.py [ENV_FILE]` (see README.md)."""

import sys

from llmemu.service.distributed.main import run_scheduler

if __name__ == "__main__":
    sys.exit(run_scheduler(sys.argv[1:]))
