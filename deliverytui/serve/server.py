"""The web server of ``deliverytui serve``: textual-serve's routes behind deliverytui's access check.

textual-serve runs one command per visitor (each browser tab gets its own process behind a websocket) and
lets anyone who reaches the port in. So: it binds loopback unless another host is asked for, and then every
request must carry a random token, given once in the URL (``?token=…``) and kept afterwards in an HttpOnly,
SameSite=Strict cookie, so the page's websocket and its static files pass without the token in their URLs.
Anything else is refused with HTTP 403. The token lives in this process only: the visitors' processes
inherit the environment, so it is never put there, nor on their command lines.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlencode

from aiohttp import web
from textual_serve.server import Server

TOKEN_PARAMETER = "token"
TOKEN_COOKIE = "deliverytui_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
UNSPECIFIED = frozenset({"0.0.0.0", "::", ""})


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def new_token() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True, slots=True)
class ServeSettings:
    """Where to listen, what each visitor runs, and the token (None: loopback without one)."""

    command: str
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None
    token: str | None = None
    title: str = "deliverytui"
    presenter_command: str | None = None
    """Classroom mode with the presenter in a browser: what the presenter's tab runs (the lab itself)."""
    presenter_token: str | None = None
    """Required for the presenter's tab, wherever the server listens (a viewer's URL must not drive the lab)."""

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = socket.gethostname() if self.host in UNSPECIFIED else self.host  # every interface: name this machine
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    @property
    def visitor_url(self) -> str:
        """The URL to hand out: with the token in it when one is required."""
        query = f"/?{urlencode({TOKEN_PARAMETER: self.token})}" if self.token else "/"
        return self.base_url + query

    @property
    def presenter_url(self) -> str | None:
        return f"{self.base_url}/?{urlencode({TOKEN_PARAMETER: self.presenter_token})}" if self.presenter_token else None


VIEWER, PRESENTER = "viewer", "presenter"
ROLE = web.RequestKey("role", str)
"""Which token the request carried: the websocket starts that role's command."""


def access_middleware(settings: ServeSettings) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Give each request its role from the token in its query or cookie; refuse (403) one with none.

    Without a viewer token (loopback) a request with no token is a viewer. A token in the query is kept in
    the cookie, so the page's websocket and static files need no token in their URLs.
    """
    tokens = {role: token.encode() for role, token in ((VIEWER, settings.token), (PRESENTER, settings.presenter_token)) if token}

    def role_of(value: str | None) -> str | None:
        if value is None:
            return None
        given = value.encode()
        return next((role for role, token in tokens.items() if hmac.compare_digest(given, token)), None)

    @web.middleware
    async def check(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
        query = request.query.get(TOKEN_PARAMETER)
        role = role_of(query) or role_of(request.cookies.get(TOKEN_COOKIE))
        if role is None and settings.token is None and query is None:
            role = VIEWER  # loopback: viewers need no token
        if role is None:
            raise web.HTTPForbidden(text="deliverytui serve: this page needs the access token printed when it started\n")
        request[ROLE] = role
        response = await handler(request)
        if role_of(query) and not response.prepared:  # a websocket is already prepared: its cookie is set already
            response.set_cookie(TOKEN_COOKIE, query, httponly=True, samesite="Strict")  # type: ignore[arg-type]
        return response

    return check


class GuardedServer(Server):
    """textual-serve's server with deliverytui's access check in front of its routes.

    Each role has its own textual-serve server (its own command); this one serves the page and the static
    files, and hands each websocket to the server of the request's role.
    """

    def __init__(self, settings: ServeSettings) -> None:
        super().__init__(
            settings.command, host=settings.host, port=settings.port, title=settings.title,
            public_url=settings.base_url,
        )
        self.settings = settings
        self.presenter = (
            Server(settings.presenter_command, host=settings.host, port=settings.port, title=settings.title,
                   public_url=settings.base_url)
            if settings.presenter_command else None
        )  # fmt: skip

    async def dispatch_websocket(self, request: web.Request) -> web.WebSocketResponse:
        if request.get(ROLE) == PRESENTER and self.presenter is not None:
            return await self.presenter.handle_websocket(request)
        return await self.handle_websocket(request)

    def web_application(self) -> web.Application:
        """textual-serve's routes (its page, websocket, downloads and static files), behind the check."""
        app = web.Application(middlewares=[access_middleware(self.settings)])
        import aiohttp_jinja2
        import jinja2

        aiohttp_jinja2.setup(app, loader=jinja2.FileSystemLoader(self.templates_path))
        app.add_routes([
            web.get("/", self.handle_index, name="index"),
            web.get("/ws", self.dispatch_websocket, name="websocket"),
            web.get("/download/{key}", self.handle_download, name="download"),
            web.static("/static", self.statics_path, show_index=False, name="static"),
        ])
        return app


class BackgroundServer:
    """The server on its own event loop in a thread, beside a Textual app that owns the main thread."""

    def __init__(self, settings: ServeSettings) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.started = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="deliverytui-serve", daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        self.thread.start()
        if not self.started.wait(timeout):
            raise TimeoutError("the web server did not start")
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as exc:  # noqa: BLE001 - handed to start(), which raises it in the caller
            self.error = exc
            self.started.set()
            return
        self.started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._stop())
        self.loop.close()

    async def _start(self) -> None:
        self.runner = web.AppRunner(
            GuardedServer(self.settings).web_application(), handle_signals=False, shutdown_timeout=5.0
        )
        await self.runner.setup()
        await web.TCPSite(self.runner, self.settings.host, self.settings.port).start()

    async def _stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()  # closes the websockets: each visitor's process is told to quit
        pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        if pending:  # the visitors' processes being reaped: let them finish before the loop closes
            await asyncio.wait(pending, timeout=30)

    def stop(self, timeout: float = 15.0) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout)
