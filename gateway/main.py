"""Entry point of the gateway service: `python gateway/main.py [ENV_FILE]` (see README.md)."""

import sys

from llmemu.service.distributed.main import run_gateway

if __name__ == "__main__":
    sys.exit(run_gateway(sys.argv[1:]))
