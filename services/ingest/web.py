"""The web page at ``/``: static files (no build step) and the one thing they cannot know,
where the gateway's WebSocket is."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

FILES = Path(__file__).parent / "web"
router = APIRouter(include_in_schema=False)


@router.get("/")
async def page() -> FileResponse:
    return FileResponse(FILES / "index.html", media_type="text/html; charset=utf-8")


@router.get("/web/config.json")
async def config(request: Request) -> JSONResponse:
    return JSONResponse({"ws_url": request.app.state.settings.public_ws_url})


def mount(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/web", StaticFiles(directory=FILES), name="web")
