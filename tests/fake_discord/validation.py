"""Discord's request validation that its API description cannot express.

Field types, lengths, counts and choices are checked against the description
(``openapi.py``) before a handler runs; what is left here are rules across
fields or that the description states differently from Discord: the 6,000
characters across a message's embeds, content of at most 2,000 characters (the
description says 4,000), embed fields that are present but empty, five action
rows, a button with nothing to do, an empty message, option order and names of
commands. Violations raise :class:`~.errors.ApiError` (400, code 50035 "Invalid Form
Body" with Discord's nested ``errors`` tree, or 50006 for an empty message),
which discord.py surfaces as ``discord.HTTPException``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import ApiError, form_error

_COMMAND_NAME = re.compile(r"^[-_'\w]{1,32}$")

EMBED_TOTAL = 6000


def _too_long(path: str, limit: int) -> ApiError:
    return form_error(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _embed_size(embed: Mapping[str, Any]) -> int:
    size = len(str(embed.get("title") or "")) + len(str(embed.get("description") or ""))
    for fld in embed.get("fields") or []:
        size += len(str(fld.get("name") or "")) + len(str(fld.get("value") or ""))
    size += len(str((embed.get("footer") or {}).get("text") or ""))
    size += len(str((embed.get("author") or {}).get("name") or ""))
    return size


def validate_embeds(embeds: Sequence[Mapping[str, Any]]) -> None:
    """Check what Discord checks across embeds: fields with text, 6,000 characters in all."""
    total = 0
    for i, embed in enumerate(embeds):
        for j, fld in enumerate(embed.get("fields") or []):
            for key in ("name", "value"):
                if not str(fld.get(key) or ""):
                    raise form_error(
                        f"embeds.{i}.fields.{j}.{key}",
                        "BASE_TYPE_REQUIRED",
                        "This field is required",
                    )
        total += _embed_size(embed)
    if total > EMBED_TOTAL:
        raise form_error(
            "embeds", "BASE_TYPE_MAX_LENGTH", "Embed size exceeds maximum size of 6000"
        )


def validate_components(components: Sequence[Mapping[str, Any]]) -> None:
    """Check the classic layout: five action rows, and a button that does something."""
    rows = [c for c in components if c.get("type") == 1]
    if len(rows) > 5:
        raise _too_long("components", 5)
    for i, row in enumerate(rows):
        for j, child in enumerate(row.get("components") or []):
            if child.get("type") != 2:
                continue
            if child.get("custom_id") is None and not child.get("url") and not child.get("sku_id"):
                raise form_error(
                    f"components.{i}.components.{j}.custom_id",
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                )


def validate_message(body: Mapping[str, Any], *, has_files: bool, creating: bool) -> None:
    """Validate a message create/edit body (channel message, follow-up or callback data)."""
    content = body.get("content")
    if content is not None and len(str(content)) > 2000:
        raise _too_long("content", 2000)
    embeds = body.get("embeds") or []
    validate_embeds(embeds)
    components = body.get("components") or []
    validate_components(components)
    if creating:
        empty = (
            not content
            and not embeds
            and not components
            and not has_files
            and not body.get("sticker_ids")
            and not body.get("poll")
            and not body.get("attachments")
        )
        if empty:
            raise ApiError(400, 50006)


def _validate_option(option: Mapping[str, Any], path: str) -> None:
    name = str(option.get("name") or "")
    if not _COMMAND_NAME.match(name) or name != name.lower():
        raise form_error(
            f"{path}.name", "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid"
        )
    if not option.get("description"):
        raise form_error(
            f"{path}.description", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 100 in length."
        )
    if option.get("choices") and option.get("autocomplete"):
        raise form_error(
            f"{path}.autocomplete",
            "AUTOCOMPLETE_CHOICES_CONFLICT",
            "Autocomplete cannot be set with choices",
        )
    children = option.get("options") or []
    seen_optional = False
    for k, child in enumerate(children):
        if child.get("type") not in (1, 2):
            if child.get("required"):
                if seen_optional:
                    raise form_error(
                        f"{path}.options.{k}.required",
                        "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID",
                        "Required options must be placed before non-required options",
                    )
            else:
                seen_optional = True
        _validate_option(child, f"{path}.options.{k}")


def validate_command(command: Mapping[str, Any], path: str) -> None:
    """Validate one application command as Discord does on create/overwrite."""
    command_type = int(command.get("type") or 1)
    name = str(command.get("name") or "")
    if command_type == 1:
        _validate_option(command, path)
    elif not 1 <= len(name) <= 32:
        raise form_error(
            f"{path}.name", "BASE_TYPE_BAD_LENGTH", "Must be between 1 and 32 in length."
        )


def validate_commands(commands: Sequence[Mapping[str, Any]]) -> None:
    """Validate a bulk overwrite (``PUT .../commands``)."""
    if sum(1 for c in commands if int(c.get("type") or 1) == 1) > 100:
        raise _too_long("", 100)
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        validate_command(command, str(i))
        key = (int(command.get("type") or 1), str(command.get("name")))
        if key in seen:
            raise form_error(
                f"{i}.name",
                "APPLICATION_COMMANDS_DUPLICATE_NAME",
                "Application command names must be unique",
            )
        seen.add(key)


def validate_choices(choices: Sequence[Mapping[str, Any]]) -> None:
    """Validate an autocomplete result: string values of at most 100 characters."""
    for i, choice in enumerate(choices):
        value = choice.get("value")
        if isinstance(value, str) and len(value) > 100:
            raise _too_long(f"data.choices.{i}.value", 100)
