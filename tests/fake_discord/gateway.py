"""The fake gateway: websocket sessions, IDENTIFY/RESUME, heartbeats and event routing.

Protocol as discord.py 2.7 drives it:

1. The client connects to ``<gateway>?v=10&encoding=json&compress=zlib-stream``
   (``zstd-stream`` if the ``zstandard`` package is importable; the fake then
   answers with uncompressed text frames, which discord.py handles too).
2. The server sends HELLO; the client heartbeats at once and sends IDENTIFY
   (or RESUME).
3. The server answers READY (with ``resume_gateway_url`` pointing back here,
   to ``/gateway/resume``) and one GUILD_CREATE per guild on that shard.

Frames are compressed as one zlib stream per connection, each message ending
in a ``Z_SYNC_FLUSH`` (``00 00 ff ff``) as discord.py expects. A client that
does not ask for compression gets text frames. Events dispatched while a
session is disconnected are buffered and replayed on RESUME.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import zlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from .errors import NoGatewaySession
from .state import JSON, FakeGuild, FakeState
from .waiting import Notifier

_log = logging.getLogger(__name__)


class Op:
    """Gateway opcodes."""

    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    VOICE_STATE_UPDATE = 4
    RESUME = 6
    RECONNECT = 7
    REQUEST_GUILD_MEMBERS = 8
    INVALID_SESSION = 9
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent:
    """Gateway intent bits the fake honours when routing events."""

    GUILDS = 1 << 0
    GUILD_MEMBERS = 1 << 1
    GUILD_MESSAGES = 1 << 9
    DIRECT_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


_GUILD_EVENTS = {
    "GUILD_UPDATE",
    "GUILD_DELETE",
    "GUILD_ROLE_CREATE",
    "GUILD_ROLE_UPDATE",
    "GUILD_ROLE_DELETE",
    "CHANNEL_CREATE",
    "CHANNEL_UPDATE",
    "CHANNEL_DELETE",
    "THREAD_CREATE",
    "THREAD_UPDATE",
    "THREAD_DELETE",
}
_MEMBER_EVENTS = {"GUILD_MEMBER_ADD", "GUILD_MEMBER_UPDATE", "GUILD_MEMBER_REMOVE"}
_MESSAGE_EVENTS = {"MESSAGE_CREATE", "MESSAGE_UPDATE", "MESSAGE_DELETE"}


def required_intent(event: str, *, in_guild: bool) -> int:
    """The intent a session needs to receive ``event`` (0 = always delivered)."""
    if event in _GUILD_EVENTS:
        return Intent.GUILDS
    if event in _MEMBER_EVENTS:
        return Intent.GUILD_MEMBERS
    if event in _MESSAGE_EVENTS:
        return Intent.GUILD_MESSAGES if in_guild else Intent.DIRECT_MESSAGES
    return 0


class GatewayConnection:
    """One websocket connection, with its wire compression and send lock."""

    def __init__(self, ws: web.WebSocketResponse, *, compress: str | None, path: str) -> None:
        self.ws = ws
        self.path = path
        self.compress = compress
        self.session: GatewaySession | None = None
        self.heartbeats = 0
        #: Set when the fake closed the socket (the session then stays resumable,
        #: whatever close code the client echoes).
        self.closed_by_server = False
        self._lock = asyncio.Lock()
        # zstd-stream (requested when the ``zstandard`` package is importable)
        # is answered with plain text frames, which discord.py also accepts.
        self._zlib = zlib.compressobj() if compress == "zlib-stream" else None

    async def send(self, payload: JSON) -> bool:
        """Send one payload; False if the socket is gone."""
        data = json.dumps(payload, separators=(",", ":")).encode()
        async with self._lock:
            if self.ws.closed:
                return False
            try:
                if self._zlib is not None:
                    await self.ws.send_bytes(
                        self._zlib.compress(data) + self._zlib.flush(zlib.Z_SYNC_FLUSH)
                    )
                else:
                    await self.ws.send_str(data.decode())
            except (ConnectionError, RuntimeError) as exc:
                _log.debug("gateway send failed: %s", exc)
                return False
        return True

    async def close(self, code: int) -> None:
        """Close the socket from the server side."""
        self.closed_by_server = True
        with contextlib.suppress(ConnectionError, RuntimeError):
            await self.ws.close(code=code)


@dataclass
class GatewaySession:
    """A logical session (survives disconnects until invalidated)."""

    session_id: str
    shard_id: int
    shard_count: int
    intents: int
    identify: JSON
    sharded: bool
    seq: int = 0
    buffer: deque[JSON] = field(default_factory=lambda: deque(maxlen=5000))
    connection: GatewayConnection | None = None
    invalid: bool = False
    resumes: int = 0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    received: list[JSON] = field(default_factory=list)

    def wants(self, event: str, *, in_guild: bool) -> bool:
        """Whether the session's intents cover ``event``."""
        needed = required_intent(event, in_guild=in_guild)
        return needed == 0 or bool(self.intents & needed)

    @property
    def connected(self) -> bool:
        """Whether a live websocket is attached."""
        return self.connection is not None and not self.connection.ws.closed


class Gateway:
    """All gateway sessions of one fake server."""

    def __init__(
        self,
        state: FakeState,
        notifier: Notifier,
        resume_url: Callable[[], str],
        *,
        heartbeat_interval_ms: int = 41_250,
    ) -> None:
        self.state = state
        self.notifier = notifier
        self.resume_url = resume_url
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.sessions: dict[str, GatewaySession] = {}
        self.connections: set[GatewayConnection] = set()
        self.identify_count = 0
        self.resume_count = 0
        self.heartbeat_count = 0
        self.received: list[JSON] = []

    # ------------------------------------------------------------------ queries
    def live_sessions(self) -> list[GatewaySession]:
        """Sessions that have not been invalidated."""
        return [s for s in self.sessions.values() if not s.invalid]

    def shard_count(self) -> int | None:
        """The shard count the connected bot identified with, if any."""
        counts = {s.shard_count for s in self.live_sessions()}
        return max(counts) if counts else None

    def sessions_for(
        self, *, guild_id: int | None = None, shard_id: int | None = None, broadcast: bool = False
    ) -> list[GatewaySession]:
        """Sessions that should receive an event for a guild / shard (DMs go to shard 0)."""
        live = self.live_sessions()
        if broadcast:
            return live
        if shard_id is not None:
            return [s for s in live if s.shard_id == shard_id]
        if guild_id is None:
            return [s for s in live if s.shard_id == 0]
        return [s for s in live if (guild_id >> 22) % s.shard_count == s.shard_id]

    # ----------------------------------------------------------------- dispatch
    async def dispatch(
        self,
        event: str,
        data: JSON,
        *,
        guild_id: int | None = None,
        shard_id: int | None = None,
        broadcast: bool = False,
        require_session: bool = False,
        force: bool = False,
        transform: Callable[[GatewaySession, JSON], JSON] | None = None,
    ) -> int:
        """Send a DISPATCH event to the right shard(s); returns how many sessions got it.

        Sessions whose intents do not cover the event are skipped unless
        ``force``. ``transform`` may tailor the payload per session (e.g. blank
        message content without the MESSAGE_CONTENT intent). With
        ``require_session`` a missing session raises :class:`NoGatewaySession`
        (an interaction nobody can receive is a test bug, not a silent bot).
        """
        in_guild = guild_id is not None
        targets = [
            s
            for s in self.sessions_for(guild_id=guild_id, shard_id=shard_id, broadcast=broadcast)
            if force or s.wants(event, in_guild=in_guild)
        ]
        if not targets and require_session:
            raise NoGatewaySession(
                f"no gateway session would receive {event} (guild {guild_id}, shard {shard_id}); "
                f"is the bot connected? sessions: {[(s.shard_id, s.shard_count) for s in self.live_sessions()]}"
            )
        for session in targets:
            payload = data if transform is None else transform(session, data)
            await self._send_dispatch(session, event, payload)
        return len(targets)

    async def _send_dispatch(self, session: GatewaySession, event: str, data: JSON) -> None:
        async with session.lock:
            session.seq += 1
            frame = {"op": Op.DISPATCH, "t": event, "s": session.seq, "d": data}
            session.buffer.append(frame)
            conn = session.connection
            if conn is not None:
                await conn.send(frame)
        self.notifier.notify()

    # ------------------------------------------------------------ server control
    async def reconnect(self, shard_id: int | None = None) -> None:
        """Send op 7 RECONNECT; discord.py then reconnects and RESUMEs."""
        for session in self._targets(shard_id):
            if session.connection is not None:
                await session.connection.send({"op": Op.RECONNECT, "d": None, "s": None, "t": None})

    async def invalidate(self, shard_id: int | None = None, *, resumable: bool = False) -> None:
        """Send op 9 INVALID_SESSION (``resumable=False`` forces a new IDENTIFY)."""
        for session in self._targets(shard_id):
            if not resumable:
                session.invalid = True
            if session.connection is not None:
                await session.connection.send(
                    {"op": Op.INVALID_SESSION, "d": resumable, "s": None, "t": None}
                )

    async def drop(self, shard_id: int | None = None, *, code: int = 4000) -> None:
        """Close the websocket from the server side (the session stays resumable)."""
        for session in self._targets(shard_id):
            if session.connection is not None:
                await session.connection.close(code)

    async def close_all(self, code: int = 1001) -> None:
        """Close every connection (used at shutdown)."""
        for conn in list(self.connections):
            await conn.close(code)

    def _targets(self, shard_id: int | None) -> list[GatewaySession]:
        return [s for s in self.live_sessions() if shard_id is None or s.shard_id == shard_id]

    # ---------------------------------------------------------------- websocket
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """aiohttp handler for ``/gateway`` and ``/gateway/resume``."""
        ws = web.WebSocketResponse(max_msg_size=0, autoping=True)
        await ws.prepare(request)
        conn = GatewayConnection(ws, compress=request.query.get("compress"), path=request.path)
        self.connections.add(conn)
        try:
            await conn.send(
                {
                    "op": Op.HELLO,
                    "d": {
                        "heartbeat_interval": self.heartbeat_interval_ms,
                        "_trace": ["fake-gateway"],
                    },
                    "s": None,
                    "t": None,
                }
            )
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    raw = msg.data if isinstance(msg.data, str) else msg.data.decode()
                    try:
                        payload = json.loads(raw)
                    except ValueError:
                        await conn.close(4002)  # Decode error
                        break
                    await self._on_payload(conn, payload)
                elif msg.type == WSMsgType.ERROR:
                    break
        finally:
            self.connections.discard(conn)
            session = conn.session
            if session is not None and session.connection is conn:
                session.connection = None
                if ws.close_code in (1000, 1001) and not conn.closed_by_server:
                    # A client closing normally ends its session, as on Discord.
                    session.invalid = True
            self.notifier.notify()
        return ws

    async def _on_payload(self, conn: GatewayConnection, payload: JSON) -> None:
        op = payload.get("op")
        data = payload.get("d")
        if op == Op.HEARTBEAT:
            conn.heartbeats += 1
            self.heartbeat_count += 1
            await conn.send({"op": Op.HEARTBEAT_ACK, "d": None, "s": None, "t": None})
            self.notifier.notify()
            return
        self.received.append(payload)
        if conn.session is not None:
            conn.session.received.append(payload)
        if op == Op.IDENTIFY:
            await self._identify(conn, data or {})
        elif op == Op.RESUME:
            await self._resume(conn, data or {})
        elif conn.session is None:
            await conn.close(4003)  # Not authenticated
        elif op == Op.REQUEST_GUILD_MEMBERS:
            await self._request_members(conn.session, data or {})
        elif op in (Op.PRESENCE_UPDATE, Op.VOICE_STATE_UPDATE):
            pass
        else:
            await conn.close(4001)  # Unknown opcode
        self.notifier.notify()

    async def _identify(self, conn: GatewayConnection, data: JSON) -> None:
        if conn.session is not None:
            await conn.close(4005)  # Already authenticated
            return
        if data.get("token") != self.state.token:
            await conn.close(4004)  # Authentication failed
            return
        shard = data.get("shard")
        shard_id, shard_count = (int(shard[0]), int(shard[1])) if shard else (0, 1)
        if shard_count < 1 or not 0 <= shard_id < shard_count:
            await conn.close(4010)  # Invalid shard
            return
        session = GatewaySession(
            session_id=secrets.token_hex(16),
            shard_id=shard_id,
            shard_count=shard_count,
            intents=int(data.get("intents", 0)),
            identify=data,
            sharded=bool(shard),
        )
        self.sessions[session.session_id] = session
        self.identify_count += 1
        guilds = self.guilds_for(shard_id, shard_count)
        async with session.lock:
            session.connection = conn
            conn.session = session
        await self._send_dispatch(session, "READY", self._ready_payload(session, guilds))
        for guild in guilds:
            payload = self.state.guild_create_payload(
                guild, all_members=bool(session.intents & Intent.GUILD_MEMBERS), join=False
            )
            await self._send_dispatch(session, "GUILD_CREATE", payload)

    def guilds_for(self, shard_id: int, shard_count: int) -> list[FakeGuild]:
        """Guilds the bot is in that belong to a shard."""
        return [
            g
            for g in self.state.guilds.values()
            if g.bot_present and g.shard_id(shard_count) == shard_id
        ]

    def _ready_payload(self, session: GatewaySession, guilds: list[FakeGuild]) -> JSON:
        payload: JSON = {
            "v": 10,
            "user": self.state.bot_user_payload(),
            "guilds": [{"id": str(g.id), "unavailable": True} for g in guilds],
            "session_id": session.session_id,
            "session_type": "normal",
            "resume_gateway_url": self.resume_url(),
            "application": {"id": str(self.state.application_id), "flags": 0},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": [],
            "user_settings": {},
            "auth": {},
            "_trace": ["fake-gateway"],
        }
        if session.sharded:
            payload["shard"] = [session.shard_id, session.shard_count]
        return payload

    async def _resume(self, conn: GatewayConnection, data: JSON) -> None:
        session = self.sessions.get(str(data.get("session_id")))
        if session is None or session.invalid or data.get("token") != self.state.token:
            await conn.send({"op": Op.INVALID_SESSION, "d": False, "s": None, "t": None})
            return
        old = session.connection
        if old is not None and old is not conn:
            old.session = None
            await old.close(4000)
        last_seq = int(data.get("seq") or 0)
        async with session.lock:
            session.connection = conn
            conn.session = session
            for frame in list(session.buffer):
                if frame["s"] > last_seq:
                    await conn.send(frame)
            session.seq += 1
            resumed = {"op": Op.DISPATCH, "t": "RESUMED", "s": session.seq, "d": {"_trace": []}}
            session.buffer.append(resumed)
            await conn.send(resumed)
        session.resumes += 1
        self.resume_count += 1

    async def _request_members(self, session: GatewaySession, data: JSON) -> None:
        guild = self.state.guilds.get(int(data.get("guild_id", 0)))
        if guild is None:
            return
        members = list(guild.members.values())
        user_ids = data.get("user_ids")
        if user_ids:
            wanted = {int(u) for u in (user_ids if isinstance(user_ids, list) else [user_ids])}
            members = [m for m in members if m.user.id in wanted]
        else:
            query = str(data.get("query") or "").lower()
            members = [m for m in members if m.user.username.lower().startswith(query)]
            limit = int(data.get("limit") or 0)
            if limit:
                members = members[:limit]
        chunk: dict[str, Any] = {
            "guild_id": str(guild.id),
            "members": [m.to_payload() for m in members],
            "chunk_index": 0,
            "chunk_count": 1,
            "not_found": [],
        }
        if data.get("nonce") is not None:
            chunk["nonce"] = data["nonce"]
        await self._send_dispatch(session, "GUILD_MEMBERS_CHUNK", chunk)
