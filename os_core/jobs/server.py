"""Serving the job service with uvicorn on an address of our own binding (port 0 picks a free port,
and the line announcing the address names the real one)."""
from __future__ import annotations

import socket
from typing import Any, Callable

from .settings import ServiceSettings


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.set_inheritable(False)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def serve(settings: ServiceSettings, host: str = "127.0.0.1", port: int = 8000, *,
          announce: Callable[[str], Any] = print) -> None:
    """Run the service until SIGINT/SIGTERM; ``announce(url)`` once it accepts requests."""
    import uvicorn

    from .app import create_app

    sock = bind(host, port)
    url = url_of(sock)

    class _Server(uvicorn.Server):
        async def startup(self, sockets: Any = None) -> None:
            await super().startup(sockets)
            if self.started:
                announce(url)

    config = uvicorn.Config(create_app(settings), log_level="warning", access_log=False, lifespan="on",
                            timeout_graceful_shutdown=3)
    try:
        _Server(config).run(sockets=[sock])
    finally:
        sock.close()
