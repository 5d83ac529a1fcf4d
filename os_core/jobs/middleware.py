"""An ASGI middleware for every response's security headers, and for the size of job uploads: a
declared length over the limit is refused before the body is read (413), and a body without a length
is cut off once it passes the limit."""
from __future__ import annotations

from typing import Any, MutableMapping

from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
UPLOAD_PATH = "/api/jobs"


class GuardMiddleware:
    def __init__(self, app: Any, *, upload_limit: int, archive_limit: int) -> None:
        self.app = app
        self.upload_limit = upload_limit
        self.archive_limit = archive_limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
            await send(message)

        if scope["method"] == "POST" and scope["path"] == UPLOAD_PATH:
            length = Headers(scope=scope).get("content-length")
            if length is not None and (not length.isdigit() or int(length) > self.upload_limit):
                response = JSONResponse({"detail": f"the upload is {length} bytes; the limit is {self.upload_limit} "
                                                   f"(an archive of at most {self.archive_limit} bytes)"}, 413)
                await response(scope, receive, send_with_headers)
                return
            receive = self._limited(receive)
        await self.app(scope, receive, send_with_headers)

    def _limited(self, receive: Any) -> Any:
        seen = 0
        limit = self.upload_limit

        async def limited_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise HTTPException(413, f"the upload is larger than {limit} bytes")
            return message

        return limited_receive
