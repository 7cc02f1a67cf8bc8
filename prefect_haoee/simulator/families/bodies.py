"""Reading and checking family request bodies (JSON or multipart), in the simulator's codes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from typing import Any

from starlette.requests import Request

from prefect_haoee.simulator.checks import parse_json_object
from prefect_haoee.simulator.codes import SimError
from prefect_haoee.simulator.http import read_limited
from prefect_haoee.simulator.state import SimState

TEXT_FIELDS = ("prompt", "negative_prompt", "gpt_description_prompt", "title", "tags")


async def read_raw(request: Request, state: SimState) -> bytes:
    return await read_limited(request, int(state.config.max_body_mb * 1024 * 1024))


async def read_json(request: Request, state: SimState) -> dict[str, Any]:
    return parse_json_object(await read_raw(request, state))


@dataclass
class Form:
    fields: dict[str, str]
    files: list[tuple[str, bytes]]
    """(field name, bytes) in order."""


async def read_form(request: Request, state: SimState) -> Form:
    """A ``multipart/form-data`` body (parsed with the standard library)."""
    raw = await read_raw(request, state)
    ctype = request.headers.get("content-type", "")
    if not ctype.lower().startswith("multipart/form-data"):
        raise SimError(50200, "expected a multipart/form-data body")
    message = BytesParser(policy=policy.HTTP).parsebytes(
        b"Content-Type: " + ctype.encode("latin-1") + b"\r\n\r\n" + raw
    )
    if not message.is_multipart():
        raise SimError(50200, "malformed multipart body")
    form = Form({}, [])
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        if not isinstance(name, str) or not isinstance(payload, bytes):
            raise SimError(50200, "malformed multipart part")
        if part.get_filename() is not None:
            form.files.append((name, payload))
        else:
            form.fields[name] = payload.decode("utf-8", "replace")
    return form


def check_words(texts: Iterable[Any], words: Mapping[str, int]) -> None:
    """Refuse a body whose text holds a configured moderation word (its code)."""
    lowered = [t.lower() for t in texts if isinstance(t, str)]
    for word, code in words.items():
        if any(word.lower() in t for t in lowered):
            raise SimError(code)


def body_texts(body: Mapping[str, Any], extra: Iterable[str] = ()) -> list[Any]:
    texts: list[Any] = [body.get(n) for n in (*TEXT_FIELDS, *extra)]
    for value in body.values():
        if isinstance(value, list):
            texts.extend(v for v in value if isinstance(v, str) and v.startswith("http"))
        elif isinstance(value, str) and value.startswith("http"):
            texts.append(value)
    return texts


def moderate(body: Mapping[str, Any], state: SimState, extra: Iterable[str] = ()) -> None:
    """Refuse a body whose prompts or links hold one of the run's moderation words."""
    check_words(body_texts(body, extra), state.config.moderation_words)


def require_str(body: Mapping[str, Any], name: str, *, optional: bool = False) -> str | None:
    value = body.get(name)
    if value is None:
        if optional:
            return None
        raise SimError(50201, f"{name} is required")
    if not isinstance(value, str) or not value.strip():
        raise SimError(50204, f"{name} must be a non-empty string")
    return value


def required_str(body: Mapping[str, Any], name: str) -> str:
    """``body[name]``, a non-empty string (50201 when missing, 50204 when not one)."""
    value = require_str(body, name)
    assert value is not None
    return value


def require_choice(
    body: Mapping[str, Any], name: str, choices: Iterable[Any], default: Any = None
) -> Any:
    value = body.get(name, default)
    allowed = list(choices)
    if value not in allowed:
        raise SimError(50200, f"{name} must be one of {allowed}, got {value!r}")
    return value


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
