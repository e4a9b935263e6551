"""A headless Streamlit client: speaks the app's own websocket protocol (protobuf `BackMsg` / `ForwardMsg` on
`/_stcore/stream`) the way the browser front end does, so that load tests exercise the real server (session
threads, reruns, fragments, the database) without the cost of a browser per participant.

It keeps what a browser keeps: the elements of the last complete script run (fragment runs patch them), the
values of widgets (proto defaults until set), and the fragments' auto-rerun timers (`st.fragment(run_every=...)`,
which is how a waiting participant sees model turns arrive). It does not render, and it does not report cached
messages (so the server always sends whole elements, a little more work for the server than a browser costs).

    async with AppSession(url, query="t=TOKEN") as app:
        view = await app.start()
        # The answer form: choose an option (a radio, by position), then how sure (a slider), then submit.
        view = await app.act({"Your answer": 1, "How sure are you that this answer is correct? (%)": 60,
                              "Why? (optional)": "because"}, click="Submit answer")
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

WIDGETS = ("button", "checkbox", "radio", "slider", "text_area", "text_input", "chat_input", "selectbox")
FINISHED_FULL = ForwardMsg.FINISHED_SUCCESSFULLY
FINISHED_FRAGMENT = ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY


class AppError(Exception):
    """The server closed the connection, failed the script, or did not finish a run in time."""


@dataclass
class Element:
    kind: str
    proto: Any
    path: tuple[int, ...]

    @property
    def text(self) -> str:
        p = self.proto
        for attr in ("body", "label", "text", "message"):
            value = getattr(p, attr, None)
            if isinstance(value, str) and value:
                return value
        return ""

    @property
    def id(self) -> str:
        return getattr(self.proto, "id", "")


@dataclass
class View:
    """What one complete run of the page showed, in order."""
    elements: list[Element] = field(default_factory=list)

    def texts(self) -> list[str]:
        return [e.text for e in self.elements if e.text]

    def has(self, fragment: str) -> bool:
        return any(fragment in t for t in self.texts())

    def errors(self) -> list[str]:
        """Error alerts and uncaught exceptions: what a participant would read as "something went wrong"."""
        out = []
        for e in self.elements:
            if e.kind == "exception":
                out.append(f"exception: {e.proto.type}: {e.proto.message}")
            elif e.kind == "alert" and e.proto.format == e.proto.ERROR:
                out.append(e.proto.body)
        return out

    def widget(self, label: str, kind: str | None = None) -> Element | None:
        for e in self.elements:
            if e.kind in WIDGETS and getattr(e.proto, "label", None) == label and (kind is None or e.kind == kind):
                return e
        return None

    def buttons(self) -> list[str]:
        return [e.proto.label for e in self.elements if e.kind == "button"]


def _default_state(e: Element) -> WidgetState | None:
    """The value a browser sends for a widget nobody touched: its proto default."""
    p, ws = e.proto, WidgetState(id=e.id)
    if e.kind == "checkbox":
        ws.bool_value = p.default
    elif e.kind == "slider":
        ws.double_array_value.data[:] = list(p.default)
    elif e.kind in ("text_area", "text_input"):
        if not p.HasField("default"):
            return None
        ws.string_value = p.default
    elif e.kind == "radio":
        if not p.HasField("default"):
            return None
        ws.string_value = p.options[p.default]
    else:
        return None
    return ws


def _set_state(e: Element, value: Any) -> WidgetState:
    ws = WidgetState(id=e.id)
    if e.kind == "button":
        ws.trigger_value = bool(value)
    elif e.kind == "checkbox":
        ws.bool_value = bool(value)
    elif e.kind == "slider":
        ws.double_array_value.data[:] = list(value) if isinstance(value, (list, tuple)) else [float(value)]
    elif e.kind in ("text_area", "text_input"):
        ws.string_value = str(value)
    elif e.kind == "radio":
        # A radio is sent as its formatted option; an int picks the option by position.
        ws.string_value = e.proto.options[value] if isinstance(value, int) else str(value)
    elif e.kind == "chat_input":
        ws.string_trigger_value.data = str(value)
    else:
        raise ValueError(f"cannot set a {e.kind}")
    return ws


class AppSession:
    """One browser tab: a websocket session of the app at `url`, opened with `query` in its address."""

    def __init__(self, url: str, *, query: str = "", page: str = "", timeout: float = 60.0) -> None:
        self.ws_url = url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/_stcore/stream"
        self.query = query
        self.page = page
        self.timeout = timeout
        self._ws: Any = None
        self._reader: asyncio.Task | None = None
        self._elements: dict[tuple[int, ...], Element] = {}
        self._run_id = 0  # complete runs seen
        self._waiters: list[asyncio.Future] = []
        self._status: int | None = None
        self._fragments: dict[str, float] = {}
        self._ticker: asyncio.Task | None = None
        self._values: dict[str, WidgetState] = {}
        self._closed: str | None = None
        self.view = View()
        self.messages = 0

    async def __aenter__(self) -> AppSession:
        self._ws = await websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                            open_timeout=self.timeout, ping_interval=None)
        self._reader = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc) -> None:
        await self.close()

    async def close(self) -> None:
        for task in (self._ticker, self._reader):
            if task is not None:
                task.cancel()
        if self._ws is not None:
            await self._ws.close()

    # --- receiving -------------------------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for raw in self._ws:
                msg = ForwardMsg()
                msg.ParseFromString(raw)
                self.messages += 1
                self._on(msg)
        except websockets.ConnectionClosed as exc:
            self._closed = f"connection closed: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported to whoever waits
            self._closed = f"client error: {exc!r}"
        finally:
            self._wake()

    def _wake(self) -> None:
        for fut in self._waiters:
            if not fut.done():
                fut.set_result(None)
        self._waiters = []

    async def _until(self, ready: Callable[[], bool], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self._closed:
                raise AppError(self._closed)
            left = deadline - time.monotonic()
            if left <= 0:
                raise AppError("the page did not finish within the timeout")
            fut = asyncio.get_running_loop().create_future()
            self._waiters.append(fut)
            try:
                await asyncio.wait_for(fut, min(left, 0.25))
            except asyncio.TimeoutError:
                pass

    def _on(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            if not msg.metadata.run.fragment_ids:
                self._elements = {}  # a complete run draws the page again from the top
                self._fragments = {}
        elif kind == "delta":
            delta = msg.delta
            path = tuple(msg.metadata.delta_path)
            if delta.WhichOneof("type") == "new_element":
                el = delta.new_element
                self._elements[path] = Element(el.WhichOneof("type"), getattr(el, el.WhichOneof("type")), path)
            elif delta.WhichOneof("type") == "add_block":
                # A new block replaces whatever was at its place (and everything below it).
                self._elements = {p: e for p, e in self._elements.items() if p[:len(path)] != path}
        elif kind == "auto_rerun":
            self._fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                self._fragments.pop(fid, None)
        elif kind == "script_finished":
            self._status = msg.script_finished
            if msg.script_finished in (FINISHED_FULL, FINISHED_FRAGMENT):
                self.view = View([self._elements[p] for p in sorted(self._elements)])
                if msg.script_finished == FINISHED_FULL:
                    self._run_id += 1
                self._wake()

    # --- sending ---------------------------------------------------------------------------------------------

    def _widget_states(self, extra: dict[str, WidgetState]) -> list[WidgetState]:
        states: dict[str, WidgetState] = {}
        for e in self.view.elements:
            if e.kind in WIDGETS and e.id:
                ws = self._values.get(e.id) or _default_state(e)
                if ws is not None:
                    states[e.id] = ws
        states.update(extra)
        return list(states.values())

    async def _send(self, extra: dict[str, WidgetState] | None = None, fragment: str = "") -> None:
        if self._closed:
            raise AppError(self._closed)
        msg = BackMsg()
        state = msg.rerun_script
        state.query_string = self.query
        state.page_script_hash = ""
        state.page_name = self.page
        state.widget_states.widgets.extend(self._widget_states(extra or {}))
        if fragment:
            state.fragment_id = fragment
            state.is_auto_rerun = True
        self._status = None  # running: fragment timers wait for the end of this run
        await self._ws.send(msg.SerializeToString())

    async def _full_run(self, extra: dict[str, WidgetState] | None = None) -> View:
        """Request a run and wait for the next complete run to finish (`st.rerun` may restart it)."""
        start = self._run_id
        await self._send(extra)
        await self._until(lambda: self._run_id > start, self.timeout)
        return self.view

    async def start(self) -> View:
        """Open the page (what loading the address does)."""
        view = await self._full_run()
        self._start_ticker()
        return view

    async def act(self, values: dict[str, Any] | None = None, *, click: str | None = None) -> View:
        """Set widgets by label, click a button (or form submit button) by label, and wait for the page to be
        drawn again. Values of a form are sent with its submit button, as the browser does."""
        extra: dict[str, WidgetState] = {}
        for label, value in (values or {}).items():
            e = self.view.widget(label)
            if e is None:
                raise AppError(f"no widget labelled {label!r} on the page")
            extra[e.id] = self._values[e.id] = _set_state(e, value)
        if click is not None:
            e = self.view.widget(click, "button")
            if e is None:
                raise AppError(f"no button {click!r} on the page (buttons: {self.view.buttons()})")
            extra[e.id] = _set_state(e, True)
        view = await self._full_run(extra)
        self._values = {k: v for k, v in self._values.items() if any(e.id == k for e in view.elements)}
        return view

    async def wait_until(self, ready: Callable[[View], bool], timeout: float = 30.0) -> View:
        """Let the page's fragments poll (as their timers do in a browser) until `ready(view)`."""
        await self._until(lambda: ready(self.view), timeout)
        return self.view

    def _start_ticker(self) -> None:
        if self._ticker is None:
            self._ticker = asyncio.create_task(self._tick())

    async def _tick(self) -> None:
        """Fragment timers: each registered fragment reruns every `interval` seconds, like the browser's."""
        due: dict[str, float] = {}
        while True:
            await asyncio.sleep(0.05)
            now = time.monotonic()
            for fid, interval in list(self._fragments.items()):
                due.setdefault(fid, now + interval)
                if now >= due[fid] and self._status in (FINISHED_FULL, FINISHED_FRAGMENT):
                    due[fid] = now + interval
                    await self._send(fragment=fid)
            for fid in [f for f in due if f not in self._fragments]:
                del due[fid]
