"""Entry point of the device-workers service: `python device-workers/main.py [ENV_FILE]` (see README.md)."""

import sys

from llmemu.service.distributed.main import run_worker

if __name__ == "__main__":
    sys.exit(run_worker(sys.argv[1:]))
