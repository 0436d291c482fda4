"""Health and project endpoints (``auth_check()`` reads the project list)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.requests import Request
from starlette.responses import Response

from local_langfuse.config import ServerConfig
from local_langfuse.http import json_response

router = APIRouter()


@router.get("/api/public/health")
async def health(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    return json_response({"status": "OK", "version": config.version})


@router.get("/api/public/projects")
async def projects(request: Request) -> Response:
    config: ServerConfig = request.app.state.config
    project = {
        "id": config.project_id,
        "name": config.project_name,
        "organization": {"id": config.org_id, "name": config.org_name},
        "metadata": {},
    }
    return json_response({"data": [project]})
