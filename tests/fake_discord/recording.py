"""What the fake remembers about every REST request it received."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from .routing import method_matches, path_matches


@dataclass
class RecordedFile:
    """A file part of a multipart request (``files[n]``)."""

    field_name: str
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class RecordedRequest:
    """One REST request as the bot sent it, plus the fake's answer.

    ``path`` has the ``/api/v10`` prefix removed; ``route`` is the matched
    template (``/channels/{channel_id}/messages``) or None for an unknown route.
    For multipart requests ``json`` holds the parsed ``payload_json`` part.
    """

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any = None
    text: str | None = None
    form: dict[str, str] = field(default_factory=dict)
    files: list[RecordedFile] = field(default_factory=list)
    route: str | None = None
    params: dict[str, str] = field(default_factory=dict)
    status: int | None = None
    response: Any = None
    fault: str | None = None
    at: float = field(default_factory=time.monotonic)

    @property
    def is_multipart(self) -> bool:
        """Whether the body was ``multipart/form-data``."""
        return bool(self.form or self.files)

    def matches(self, method: str = "*", path: str | None = None) -> bool:
        """Filter helper: method (``*`` = any) and a path pattern or template."""
        if not method_matches(method, self.method):
            return False
        if path is None:
            return True
        return path == self.route or path_matches(path, self.path)

    def summary(self) -> str:
        """``POST /channels/1/messages -> 200``."""
        return f"{self.method} {self.path} -> {self.status}"
