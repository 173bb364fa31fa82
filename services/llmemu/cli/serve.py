"""`llmemu serve`: the embedded default (gateway, scheduler and device models in one process)
on uvicorn. Imports nothing heavy until it runs."""

from __future__ import annotations

import argparse
import socket


def add_arguments(p: argparse.ArgumentParser) -> None:
    """serve an OpenAI-compatible endpoint paced in real time"""
    p.add_argument("scenario", nargs="?", help="scenario YAML (or give --model and --system)")
    p.add_argument("--model", help="model preset, e.g. llama-3-8b")
    p.add_argument("--system", help="system preset, e.g. h100x1")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scenario override, e.g. policy.max_num_seqs=64")  # fmt: skip
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="listen port (default 8000)")
    p.add_argument("--speed", type=float, help="emulated seconds per wall second (default 1)")
    p.add_argument("--served-model-name", help="model id clients use (default: the preset name)")
    p.add_argument("--api-key", action="append", help="accept this Bearer key (repeatable); default: open")  # fmt: skip
    p.add_argument("--max-waiting", type=int, help="waiting sequences at most; beyond: 429")
    p.add_argument("--max-body-bytes", type=int, help="request body limit (default 8 MiB)")
    p.add_argument("--context-overflow", choices=["clamp", "error"], help="prompt + max_tokens over the context: clamp (vLLM 0.33) or 400")  # fmt: skip
    p.add_argument("--seed", type=int, help="seed of output lengths and text (default: scenario's)")
    p.add_argument("--tokenizer", metavar="PATH", help="a Hugging Face tokenizer.json or model folder holding one, for exact counts (default: cl100k_base, built in)")  # fmt: skip
    p.add_argument("--lag-bound-ms", type=float, help="warn when the p99 pacing lag of the last 10 s exceeds this many emulated ms (default 5)")  # fmt: skip
    p.add_argument("--log-level", default="warning", help="uvicorn log level")


def settings_from_args(args: argparse.Namespace):
    from llmemu.service.api.settings import ServeSettings

    given = {
        "scenario": args.scenario,
        "model": args.model,
        "system": args.system,
        "host": args.host,
        "port": args.port,
        "speed": args.speed,
        "served_model_name": args.served_model_name,
        "api_keys": args.api_key,
        "max_waiting": args.max_waiting,
        "max_body_bytes": args.max_body_bytes,
        "context_overflow": args.context_overflow,
        "seed": args.seed,
        "tokenizer": args.tokenizer,
        "lag_bound_ms": args.lag_bound_ms,
    }
    fields = {k: v for k, v in given.items() if v is not None}
    if args.set:
        fields["overrides"] = args.set
    return ServeSettings(**fields)


def listening_socket(host: str, port: int) -> socket.socket:
    """The server's socket, bound before anything is printed, so that a port in use is one
    line and exit 2 (uvicorn would log a banner, then its own error, and exit 3)."""
    from llmemu.core.errors import ConfigError

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(f"--port {port}: cannot listen on {host}:{port} ({exc.strerror}); stop what holds it or choose another --port") from None  # fmt: skip
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from llmemu.service.api.app import create_app

    settings = settings_from_args(args)
    app = create_app(settings)
    sock = listening_socket(settings.host, settings.port)
    emu = app.state.emulation
    print(
        f"llmemu serve: {emu.served_model_name} on {emu.loaded.system.name} at speed "
        f"{settings.speed:g}, http://{settings.host}:{settings.port}/v1",
        flush=True,
    )
    config = uvicorn.Config(app, log_level=args.log_level)
    uvicorn.Server(config).run(sockets=[sock])
    return 0


COMMAND = (add_arguments, run)
