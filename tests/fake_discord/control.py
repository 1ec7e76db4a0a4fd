"""HTTP control API (``/_control/...``): the FakeDiscord methods, for other processes.

A test that runs the bot as a subprocess starts the fake (in-process or with
``python -m tests.fake_discord``) and drives it over HTTP:

=======  ====================================  =========================================
Method   Path                                  Maps to
=======  ====================================  =========================================
GET      /_control/health                      urls, token, application id, bot user
GET      /_control/state                       ``statefile.dump_state``
POST     /_control/state                       ``statefile.load_state`` (add guilds...)
GET      /_control/requests?method=&path=      ``find_requests`` (JSON records)
DELETE   /_control/requests                    forget recorded requests
POST     /_control/interactions/command        ``send_command`` -> ``{"id": ...}``
POST     /_control/interactions/autocomplete   ``start_autocomplete`` -> ``{"id": ...}``
POST     /_control/interactions/component      ``click_button`` -> ``{"id": ...}``
GET      /_control/interactions/{id}           the handle; ``?wait=callback|followup|edit``
                                               ``&index=0&timeout=5`` waits (408 on timeout)
POST     /_control/faults                      ``inject_fault`` (body: its keyword args)
DELETE   /_control/faults                      ``clear_faults``
POST     /_control/ratelimits                  ``{"enabled": true}`` and limit overrides
POST     /_control/dispatch                    ``dispatch`` (event, data, guild_id, shard_id)
POST     /_control/channels/{id}/delete        ``delete_channel``
GET      /_control/channels/{id}/messages      stored messages, oldest first
POST     /_control/gateway/reconnect           op 7 to ``{"shard_id": n}`` (or all)
GET      /_control/gateway                     sessions: shard, seq, intents, resumes
=======  ====================================  =========================================

Ids in bodies may be strings or ints; options for commands take raw values
(ids for channel/user/role options; their types come from the synced command).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from .errors import FakeDiscordTimeout, NoGatewaySession
from .interactions import InteractionHandle, MessageAction
from .recording import RecordedRequest
from .state import JSON, FakeMessage
from .statefile import dump_state, load_state

if TYPE_CHECKING:
    from .server import FakeDiscord

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps(data, default=str).encode(),
        headers={"Content-Type": "application/json"},
    )


def request_to_json(record: RecordedRequest) -> JSON:
    """A recorded request as JSON (file contents reduced to their size)."""
    return {
        "method": record.method,
        "path": record.path,
        "route": record.route,
        "params": record.params,
        "query": record.query,
        "headers": record.headers,
        "json": record.json,
        "form": record.form,
        "files": [
            {
                "field": f.field_name,
                "filename": f.filename,
                "content_type": f.content_type,
                "size": len(f.data),
            }
            for f in record.files
        ],
        "status": record.status,
        "response": record.response,
        "fault": record.fault,
    }


def _action_to_json(action: MessageAction) -> JSON:
    return {
        "kind": action.kind,
        "message_id": str(action.message_id),
        "target": action.target,
        "data": action.data,
    }


def message_to_json(message: FakeMessage) -> JSON:
    """A stored message as JSON (its Discord payload plus ``deleted``)."""
    return {**message.to_payload(), "deleted": message.deleted}


def handle_to_json(handle: InteractionHandle) -> JSON:
    """An interaction handle as JSON."""
    original = handle.original_message
    return {
        "id": str(handle.id),
        "token": handle.token,
        "label": handle.label,
        "callback": None
        if handle.callback is None
        else {"type": handle.callback.type, "data": handle.callback.data},
        "actions": [_action_to_json(a) for a in handle.actions],
        "original_message": None if original is None else message_to_json(original),
        "rejected_callbacks": handle.rejected_callbacks,
    }


def _opt(value: Any) -> int | None:
    return None if value in (None, "") else int(value)


def register(app: web.Application, fake: FakeDiscord) -> None:
    """Add the control routes to ``app``."""

    async def body(request: web.Request) -> JSON:
        if not request.body_exists:
            return {}
        data = await request.json()
        return data if isinstance(data, dict) else {"items": data}

    async def health(request: web.Request) -> web.StreamResponse:
        return _json(
            {
                "ok": True,
                "api_url": fake.api_url,
                "gateway_url": fake.gateway_url,
                "token": fake.token,
                "application_id": str(fake.application_id),
                "bot": fake.bot.to_payload(),
            }
        )

    async def get_state(request: web.Request) -> web.StreamResponse:
        return _json(dump_state(fake))

    async def post_state(request: web.Request) -> web.StreamResponse:
        load_state(fake, await body(request))
        return _json(dump_state(fake))

    async def get_requests(request: web.Request) -> web.StreamResponse:
        method = request.query.get("method", "*")
        path = request.query.get("path")
        return _json([request_to_json(r) for r in fake.find_requests(method, path)])

    async def clear_requests(request: web.Request) -> web.StreamResponse:
        fake.requests.clear()
        return _json({"ok": True})

    async def command(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        handle = await fake.send_command(
            _opt(b.get("guild_id")),
            _opt(b.get("channel_id")),
            _opt(b.get("user_id")),
            str(b["name"]),
            subcommand=b.get("subcommand"),
            group=b.get("group"),
            options=b.get("options") or {},
            permissions=_opt(b.get("permissions")),
            app_permissions=_opt(b.get("app_permissions")),
            locale=b.get("locale", "en-US"),
        )
        return _json(handle_to_json(handle))

    async def autocomplete(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        handle = await fake.start_autocomplete(
            _opt(b.get("guild_id")),
            _opt(b.get("channel_id")),
            _opt(b.get("user_id")),
            str(b["name"]),
            focused=str(b["focused"]),
            options=b.get("options") or {},
            subcommand=b.get("subcommand"),
            group=b.get("group"),
        )
        return _json(handle_to_json(handle))

    async def component(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        handle = await fake.click_button(
            int(b["message_id"]),
            str(b["custom_id"]),
            _opt(b.get("user_id")),
            values=b.get("values"),
        )
        return _json(handle_to_json(handle))

    async def get_interaction(request: web.Request) -> web.StreamResponse:
        handle = fake.interactions.get(int(request.match_info["interaction_id"]))
        if handle is None:
            return _json({"message": "unknown interaction"}, 404)
        wait = request.query.get("wait")
        timeout = float(request.query["timeout"]) if "timeout" in request.query else None
        index = int(request.query.get("index", 0))
        try:
            if wait == "callback":
                await handle.response(timeout)
            elif wait == "followup":
                await handle.followup(index, timeout)
            elif wait == "edit":
                await handle.edit(index, timeout)
        except FakeDiscordTimeout as exc:
            return _json({"message": str(exc), "interaction": handle_to_json(handle)}, 408)
        return _json(handle_to_json(handle))

    async def add_fault(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        fault = fake.inject_fault(
            b.get("method", "*"),
            b["path"],
            status=_opt(b.get("status")),
            code=_opt(b.get("code")),
            message=b.get("message"),
            times=_opt(b.get("times", 1)),
            delay=float(b.get("delay", 0.0)),
            retry_after=float(b.get("retry_after", 0.05)),
            is_global=bool(b.get("global", False)),
            via=bool(b.get("via", True)),
        )
        return _json({"index": fake.faults.faults.index(fault)})

    async def clear_faults(request: web.Request) -> web.StreamResponse:
        fake.clear_faults()
        return _json({"ok": True})

    async def ratelimits(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        limiter = fake.rate_limits
        for key in ("message_limit", "default_limit", "global_limit"):
            if key in b:
                setattr(limiter, key, int(b[key]))
        for key in ("message_window", "default_window", "global_window"):
            if key in b:
                setattr(limiter, key, float(b[key]))
        if "enabled" in b:
            limiter.enabled = bool(b["enabled"])
        limiter.reset()
        return _json({"enabled": limiter.enabled})

    async def dispatch(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        count = await fake.dispatch(
            str(b["event"]),
            b.get("data") or {},
            guild_id=_opt(b.get("guild_id")),
            shard_id=_opt(b.get("shard_id")),
            broadcast=bool(b.get("broadcast", False)),
        )
        return _json({"sessions": count})

    async def delete_channel(request: web.Request) -> web.StreamResponse:
        channel = await fake.delete_channel(int(request.match_info["channel_id"]))
        return _json(channel.to_payload())

    async def channel_messages(request: web.Request) -> web.StreamResponse:
        channel_id = int(request.match_info["channel_id"])
        return _json([message_to_json(m) for m in fake.messages_in(channel_id)])

    async def reconnect(request: web.Request) -> web.StreamResponse:
        b = await body(request)
        await fake.gateway.reconnect(_opt(b.get("shard_id")))
        return _json({"ok": True})

    async def gateway(request: web.Request) -> web.StreamResponse:
        return _json(
            [
                {
                    "session_id": s.session_id,
                    "shard": [s.shard_id, s.shard_count],
                    "seq": s.seq,
                    "intents": s.intents,
                    "connected": s.connected,
                    "resumes": s.resumes,
                }
                for s in fake.gateway.live_sessions()
            ]
        )

    def guarded(handler: Handler) -> Handler:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await handler(request)
            except NoGatewaySession as exc:
                return _json({"message": str(exc)}, 409)
            except (KeyError, ValueError, TypeError) as exc:
                return _json({"message": f"bad control request: {exc!r}"}, 400)

        return wrapped

    routes: list[tuple[str, str, Handler]] = [
        ("GET", "/_control/health", health),
        ("GET", "/_control/state", get_state),
        ("POST", "/_control/state", post_state),
        ("GET", "/_control/requests", get_requests),
        ("DELETE", "/_control/requests", clear_requests),
        ("POST", "/_control/interactions/command", command),
        ("POST", "/_control/interactions/autocomplete", autocomplete),
        ("POST", "/_control/interactions/component", component),
        ("GET", "/_control/interactions/{interaction_id}", get_interaction),
        ("POST", "/_control/faults", add_fault),
        ("DELETE", "/_control/faults", clear_faults),
        ("POST", "/_control/ratelimits", ratelimits),
        ("POST", "/_control/dispatch", dispatch),
        ("POST", "/_control/channels/{channel_id}/delete", delete_channel),
        ("GET", "/_control/channels/{channel_id}/messages", channel_messages),
        ("POST", "/_control/gateway/reconnect", reconnect),
        ("GET", "/_control/gateway", gateway),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, guarded(handler))
