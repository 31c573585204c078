"""Running a command once per Idempotency-Key, and answering with :class:`Answer` values.

Every command route produces an :class:`Answer` (a status, a JSON body, headers) instead of
raising, so the first answer can be stored with the key and given again to a retry.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header
from fastapi.responses import JSONResponse, Response
from pymongo.errors import PyMongoError

from services.ingest.admissions import Admissions, Answer
from services.ingest.errors import ApiError
from shared.problems import PROBLEM_JSON, problem

log = logging.getLogger(__name__)

#: Printable ASCII without surrounding spaces (header values lose those on the way), 1-255.
KEY_PATTERN = r"^[!-~]([ -~]{0,253}[!-~])?$"

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        pattern=KEY_PATTERN,
        description="Makes the request safe to retry: a retry with the same key (same user) "
        "gets the first answer, and nothing is done twice. Keys expire after a day.",
        examples=["5f1c9a4e-8a8e-4c59-9d5c-2b3f0f6f7c11"],
    ),
]


def answer_of(exc: ApiError) -> Answer:
    return Answer(
        exc.status, problem(exc.status, exc.reason, exc.detail, **exc.extra), dict(exc.headers)
    )


def respond(answer: Answer, *, replayed: bool = False) -> Response:
    headers = dict(answer.headers)
    if replayed:
        headers["Idempotent-Replayed"] = "true"
    if answer.status == 204:
        return Response(status_code=204, headers=headers)
    return JSONResponse(
        answer.body,
        status_code=answer.status,
        headers=headers,
        media_type=PROBLEM_JSON if answer.status >= 400 else "application/json",
    )


async def once(
    admissions: Admissions,
    owner: str,
    key: str | None,
    print_: str,
    run: Callable[[], Awaitable[Answer]],
    *,
    on_replay: Callable[[], Awaitable[Any]] | None = None,
) -> Response:
    """``run`` the command, or give the answer of the first request with the same key.

    Answers below 500 are stored (a retry gets them again); a 5xx or a crash releases the
    key, so a retry does the work (nothing of it was done: publishing undoes itself).
    """
    if key is None:
        return respond(await _answer(run))
    first = await admissions.claim(owner, key, print_)
    if first is not None:
        if on_replay is not None:
            await on_replay()
        return respond(first, replayed=True)
    try:
        answer = await _answer(run)
    except BaseException:
        await _release(admissions, owner, key)
        raise
    if answer.status >= 500:
        await _release(admissions, owner, key)
    else:
        # Stored before answering: a retry that comes after this answer finds it.
        await admissions.answer(owner, key, answer, print_)
    return respond(answer)


async def _answer(run: Callable[[], Awaitable[Answer]]) -> Answer:
    try:
        return await run()
    except ApiError as exc:
        return answer_of(exc)


async def _release(admissions: Admissions, owner: str, key: str) -> None:
    try:
        await asyncio.shield(admissions.release(owner, key))
    except PyMongoError as exc:
        # The claim stays until it expires; a retry is told the key is in use meanwhile.
        log.warning("could not release an idempotency key", extra={"error": repr(exc)})
