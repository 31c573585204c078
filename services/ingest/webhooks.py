"""``/v1/webhooks``: a user's endpoints, and every delivery attempt made to them.

Registrations live in the base database (not the read model: a rebuild must keep them), one
document per owner addressed by ``_id`` (see shared/webhooks.py). Someone else's endpoint
answers exactly like a missing one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from services.ingest import metrics
from services.ingest.errors import ApiError, problem_responses
from services.ingest.security import PrincipalDep
from services.ingest.webhook_schemas import (
    AttemptList,
    AttemptView,
    WebhookCreate,
    WebhookCreated,
    WebhookList,
    WebhookView,
)
from shared.webhooks import (
    ATTEMPT_DAYS,
    CATCH_UP_DAYS,
    WEBHOOK_ATTEMPTS,
    WEBHOOKS,
    EndpointRefusedError,
    hooks_id,
    new_endpoint_id,
    new_secret,
    newest_attempts,
    parse_networks,
    remove_day,
    resolve_endpoint,
)

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=problem_responses(
        400, 409, 503, s400="malformed_body", s409="too_many_webhooks", s422="private_address"
    ),
)
async def register_webhook(request: Request, body: WebhookCreate, who: PrincipalDep) -> Any:
    """Register an endpoint; the answer carries its signing secret, shown only this once.

    The URL must resolve to public addresses only (422 ``private_address``), unless the
    deployment allows a network (``DOCSTREAM_WEBHOOKS_ALLOWED_NETWORKS``)."""
    settings = request.app.state.settings
    try:
        await resolve_endpoint(body.url, parse_networks(settings.webhooks_allowed_networks))
    except EndpointRefusedError as exc:
        metrics.WEBHOOK_REGISTRATIONS.labels(exc.reason).inc()
        raise ApiError(422, exc.reason, exc.message) from exc
    collection = request.app.state.db[WEBHOOKS]
    held = await collection.find_one({"_id": hooks_id(who.owner)})
    # Checked before the write, so two registrations at once may pass one over: a soft cap.
    if held and len(held.get("endpoints", [])) >= settings.webhooks_max_per_owner:
        metrics.WEBHOOK_REGISTRATIONS.labels("too_many_webhooks").inc()
        # A limit of what is stored, not a fault of the request: a conflict with the state.
        raise ApiError(
            409, "too_many_webhooks", f"at most {settings.webhooks_max_per_owner} endpoints"
        )
    endpoint = {
        "id": new_endpoint_id(),
        "url": body.url,
        "events": list(dict.fromkeys(body.events)),
        "description": body.description,
        "secret": new_secret(),
        "created_at": datetime.now(UTC),
    }
    # $push on one document is atomic: concurrent registrations all land.
    await collection.update_one(
        {"_id": hooks_id(who.owner)}, {"$push": {"endpoints": endpoint}}, upsert=True
    )
    metrics.WEBHOOK_REGISTRATIONS.labels("registered").inc()
    return WebhookCreated.model_validate(endpoint)


@router.get("", response_model=WebhookList, responses=problem_responses(503))
async def list_webhooks(request: Request, who: PrincipalDep) -> Any:
    """Your endpoints (without their secrets)."""
    endpoints = await _endpoints(request, who.owner)
    return WebhookList(items=[WebhookView.model_validate(e) for e in endpoints])


@router.get("/{webhook_id}", response_model=WebhookView, responses=problem_responses(404, 503))
async def get_webhook(request: Request, webhook_id: str, who: PrincipalDep) -> Any:
    return WebhookView.model_validate(await _owned(request, webhook_id, who.owner))


@router.delete("/{webhook_id}", status_code=204, responses=problem_responses(404, 503))
async def delete_webhook(request: Request, webhook_id: str, who: PrincipalDep) -> Response:
    """Stop delivering to the endpoint; deliveries already under way may still arrive."""
    endpoint = await _owned(request, webhook_id, who.owner)
    # $pull of the whole element as stored: FerretDB 1.24 pulls by equal value only, not by
    # a condition; an atomic pull leaves registrations made meanwhile in place.
    result = await request.app.state.db[WEBHOOKS].update_one(
        {"_id": hooks_id(who.owner)}, {"$pull": {"endpoints": endpoint}}
    )
    if result.modified_count == 0:  # deleted by a concurrent request
        raise ApiError(404, "not_found", "no such webhook")
    # Its record of attempts goes with it: no one can read it any more, and the webhooks
    # service's retention only looks at registered endpoints. Every day it may still keep.
    today = datetime.now(UTC).date()
    await asyncio.gather(
        *(
            remove_day(request.app.state.db, webhook_id, today - timedelta(days=back))
            for back in range(ATTEMPT_DAYS + CATCH_UP_DAYS)
        )
    )
    return Response(status_code=204)


@router.get(
    "/{webhook_id}/attempts", response_model=AttemptList, responses=problem_responses(404, 503)
)
async def list_attempts(
    request: Request,
    webhook_id: str,
    who: PrincipalDep,
    days: Annotated[int, Query(ge=1, le=ATTEMPT_DAYS, description="how many UTC days back")] = 7,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> Any:
    """Every attempt to deliver to the endpoint, newest first: every read by ``_id``."""
    await _owned(request, webhook_id, who.owner)
    today = datetime.now(UTC).date()
    found = await newest_attempts(
        request.app.state.db[WEBHOOK_ATTEMPTS],
        webhook_id,
        [today - timedelta(days=back) for back in range(days)],
        limit,
    )
    return AttemptList(items=[AttemptView.model_validate(a) for a in found])


async def _endpoints(request: Request, owner: str) -> list[dict[str, Any]]:
    held = await request.app.state.db[WEBHOOKS].find_one({"_id": hooks_id(owner)})
    return list(held.get("endpoints", [])) if held else []


async def _owned(request: Request, webhook_id: str, owner: str) -> dict[str, Any]:
    for endpoint in await _endpoints(request, owner):
        if endpoint["id"] == webhook_id:
            return endpoint
    raise ApiError(404, "not_found", "no such webhook")
