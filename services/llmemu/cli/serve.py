"""`llmemu serve`: the embedded default (gateway, scheduler and device models in one process)
on uvicorn. Imports nothing heavy until it runs."""

from __future__ import annotations

import argparse
import socket

from llmemu.cli.argtypes import nonnegative_int, port_number, positive_float, positive_int


def add_arguments(p: argparse.ArgumentParser) -> None:
    """serve an OpenAI-compatible endpoint paced in real time"""
    p.add_argument("scenario", nargs="?", help="scenario YAML (or give --model and --system)")
    p.add_argument("--model", help="model preset, e.g. llama-3-8b")
    p.add_argument("--system", help="system preset, e.g. h100x1")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="scenario override, e.g. policy.max_num_seqs=64")  # fmt: skip
    p.add_argument("--host", help="listen address (default 127.0.0.1)")
    p.add_argument("--port", type=port_number, help="listen port (default 8000)")
    p.add_argument("--replica-ports", type=port_number, metavar="PORT", help="a cluster scenario's replicas also each on its own port, PORT, PORT+1, ... (own /v1 and /metrics), for an external router")  # fmt: skip
    p.add_argument("--speed", type=positive_float, help="emulated seconds per wall second (default 1)")  # fmt: skip
    p.add_argument("--served-model-name", help="model id clients use (default: the preset name)")
    p.add_argument("--api-key", action="append", help="accept this Bearer key (repeatable); default: open")  # fmt: skip
    p.add_argument("--max-waiting", type=nonnegative_int, help="waiting sequences at most; beyond: 429")  # fmt: skip
    p.add_argument("--max-body-bytes", type=positive_int, help="request body limit (default 8 MiB)")  # fmt: skip
    p.add_argument("--max-body-items", type=positive_int, help="JSON items per request body at most (default 65536)")  # fmt: skip
    p.add_argument("--max-connections", type=positive_int, help="open connections at most; beyond: 503 (default: file descriptors less 256)")  # fmt: skip
    p.add_argument("--header-timeout", type=positive_float, metavar="SECONDS", help="a request head must arrive within this (default 10)")  # fmt: skip
    p.add_argument("--context-overflow", choices=["clamp", "error"], help="prompt + max_tokens over the context: clamp (vLLM 0.33) or 400")  # fmt: skip
    p.add_argument("--seed", type=nonnegative_int, help="seed of output lengths and text (default: scenario's)")  # fmt: skip
    p.add_argument("--tokenizer", metavar="PATH", help="a Hugging Face tokenizer.json or model folder holding one, for exact counts (default: cl100k_base, built in)")  # fmt: skip
    p.add_argument("--lag-bound-ms", type=positive_float, help="warn when the p99 pacing lag of the last 10 s exceeds this many emulated ms (default 5)")  # fmt: skip
    p.add_argument("--log-level", default="warning", choices=["critical", "error", "warning", "info", "debug", "trace"], help="uvicorn log level")  # fmt: skip


def settings_from_args(args: argparse.Namespace):
    from pydantic import ValidationError

    from llmemu.core.errors import ConfigError
    from llmemu.service.api.settings import ServeSettings

    given = {
        "scenario": args.scenario,
        "model": args.model,
        "system": args.system,
        "host": args.host,
        "port": args.port,
        "replica_ports": args.replica_ports,
        "speed": args.speed,
        "served_model_name": args.served_model_name,
        "api_keys": args.api_key,
        "max_waiting": args.max_waiting,
        "max_body_bytes": args.max_body_bytes,
        "max_body_items": args.max_body_items,
        "max_connections": args.max_connections,
        "header_timeout_s": args.header_timeout,
        "context_overflow": args.context_overflow,
        "seed": args.seed,
        "tokenizer": args.tokenizer,
        "lag_bound_ms": args.lag_bound_ms,
    }
    fields = {k: v for k, v in given.items() if v is not None}
    if args.set:
        fields["overrides"] = args.set
    try:
        return ServeSettings(**fields)
    except ValidationError as exc:  # an LLMEMU_* variable; flags are checked by their types
        err = exc.errors()[0]
        name = ".".join(str(p) for p in err["loc"])
        got = repr(err.get("input"))[:60]
        raise ConfigError(f"{name}: {err['msg']} (got {got}); fix --{name.replace('_', '-')} or LLMEMU_{name.upper()}") from None  # fmt: skip


def uvicorn_options(settings) -> dict:
    """The connection limits (service/api/http_server.py) as uvicorn.Config's options."""
    from llmemu.service.api.http_server import ConnectionLimits, guarded_protocol

    limits = ConnectionLimits(
        max_header_bytes=settings.max_header_bytes,
        header_timeout_s=settings.header_timeout_s,
        max_connections=settings.max_connections,
    )
    return {"http": guarded_protocol(limits), "h11_max_incomplete_event_size": limits.max_header_bytes}  # fmt: skip


def listening_socket(host: str, port: int, flag: str = "--port") -> socket.socket:
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
        raise ConfigError(f"{flag} {port}: cannot listen on {host}:{port} ({exc.strerror}); stop what holds it or choose another {flag}") from None  # fmt: skip
    sock.set_inheritable(True)
    return sock


def run(args: argparse.Namespace) -> int:
    import asyncio
    import gc

    import uvicorn

    from llmemu.service.api.app import create_app

    settings = settings_from_args(args)
    app = create_app(settings)
    sock = listening_socket(settings.host, settings.port)
    replicas = _replica_servers(app, settings)
    emu = app.state.emulation
    print(
        f"llmemu serve: {emu.served_model_name} on {emu.loaded.system.name} at speed "
        f"{settings.speed:g}, http://{settings.host}:{settings.port}/v1",
        flush=True,
    )
    for name, port, _, _ in replicas:
        print(f"  {name}: http://{settings.host}:{port}/v1", flush=True)
    # Start-up objects (presets, the tokenizer, pydantic schemas) live as long as the server:
    # frozen, a full collection no longer scans them (one took 0.36 s on a busy machine, and
    # the event loop, every stream and /health with it).
    gc.collect()
    gc.freeze()
    config = uvicorn.Config(app, log_level=args.log_level, **uvicorn_options(settings))
    if not replicas:
        uvicorn.Server(config).run(sockets=[sock])
        return 0
    servers = [(uvicorn.Server(config), sock)]
    for _, _, replica_app, replica_sock in replicas:
        replica_config = uvicorn.Config(replica_app, log_level=args.log_level, lifespan="off", **uvicorn_options(settings))  # fmt: skip
        servers.append((uvicorn.Server(replica_config), replica_sock))

    async def serve_all() -> None:  # one event loop: the fleet's engine loops serve them all
        await asyncio.gather(*(server.serve(sockets=[s]) for server, s in servers))

    with asyncio.Runner(loop_factory=config.get_loop_factory()) as runner:
        runner.run(serve_all())
    return 0


def _replica_servers(app, settings) -> list:
    """(name, port, app, bound socket) of each replica when --replica-ports is given."""
    from llmemu.core.errors import ConfigError
    from llmemu.service.live.replica_app import replica_apps

    if settings.replica_ports is None:
        return []
    apps = replica_apps(app)
    if not apps:
        raise ConfigError("--replica-ports: the scenario serves one replica; give a scenario with a cluster section, or drop --replica-ports")  # fmt: skip
    first = settings.replica_ports
    if first + len(apps) - 1 > 65535:
        raise ConfigError(f"--replica-ports {first}: {len(apps)} replicas need ports up to {first + len(apps) - 1}, over 65535; choose a lower port")  # fmt: skip
    out = []
    for i, (name, replica_app) in enumerate(apps):
        port = first + i
        if port == settings.port:
            raise ConfigError(f"--replica-ports {first}: {name} would take port {port}, the fleet's --port; choose ports that do not overlap")  # fmt: skip
        out.append((name, port, replica_app, listening_socket(settings.host, port, "--replica-ports")))  # fmt: skip
    return out


COMMAND = (add_arguments, run)
