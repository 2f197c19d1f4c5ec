"""Start the stylenet web app on this machine: ``make app`` or ``python -m stylenet.app [--port 7860]``.

Serves on 127.0.0.1 only (``--host 0.0.0.0`` to share on a network), offline: no analytics, no share
link, no fonts or scripts from the internet.
"""
from __future__ import annotations

import argparse
import logging
import os
import socket
import sys


def port_problem(host: str, port: int) -> str | None:
    """Why the app could not serve on ``host:port`` (in use, not an address of this machine), or None."""
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server will: a port in TIME_WAIT is free
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc.strerror or str(exc)
    return None


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m stylenet.app", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--host", default="127.0.0.1", help="address to serve on (default: this machine only)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--device", default="auto", help="auto (a GPU when present), cpu, cuda, mps")
    p.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16", "fp16"],
                   help="auto: bf16 on CPUs where it measures faster, else fp32 (as scripts/stylize.py)")
    args = p.parse_args(argv)
    if not 1 <= args.port <= 65535:
        p.error("--port must be between 1 and 65535")
    problem = port_problem(args.host, args.port)
    if problem:  # checked before the models load; PORT=... for make app
        print(f"error: cannot serve on {args.host}:{args.port}: {problem} (another --port, or PORT=... make app; "
              "--host must be an address of this machine)", file=sys.stderr)
        return 2
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # before gradio is imported
    logging.basicConfig(level=logging.INFO, format="%(levelname)s: %(message)s")
    from ..inference import auto_precision
    from .engine import Engine
    from .ui import THEME, build

    precision, why = (args.precision, "") if args.precision != "auto" else auto_precision(args.device)
    try:
        engine = Engine(args.device, precision=precision)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"stylenet app: models on {engine.device} in {precision}{f' (auto: {why})' if why else ''}; open "
          f"http://{args.host}:{args.port}", flush=True)
    build(engine).queue(default_concurrency_limit=1).launch(
        server_name=args.host, server_port=args.port, share=False, theme=THEME, show_error=False,
        footer_links=[], max_file_size="200mb", pwa=False, ssr_mode=False, mcp_server=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
