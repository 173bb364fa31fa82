"""`llmemu tokenizer export DIR`: write the server's tokenizer as a Hugging Face folder that
clients (guidellm, aiperf, `vllm bench serve`) load offline, so they count what we count."""

from __future__ import annotations

import argparse


def add_arguments(p: argparse.ArgumentParser) -> None:
    """export the server's tokenizer for clients (guidellm, aiperf, vllm bench)"""
    sub = p.add_subparsers(dest="action", required=True)
    export = sub.add_parser("export", help="write tokenizer.json, tokenizer_config.json, ...")
    export.add_argument("dir", help="folder to write (created if missing)")
    export.add_argument("--tokenizer", metavar="PATH", help="the tokenizer.json (or folder) that `serve --tokenizer` was given; default: the built-in cl100k_base")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from llmemu.service.text.tokenizer_files import write_tokenizer_dir

    files = write_tokenizer_dir(args.dir, tokenizer=args.tokenizer)
    print(f"wrote {', '.join(files)} to {args.dir}")
    return 0


COMMAND = (add_arguments, run)
