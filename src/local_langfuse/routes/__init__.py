"""Routers, one module per area of the public API; the app includes them in this order."""

from fastapi import APIRouter

from local_langfuse.routes import (
    dataset_runs,
    datasets,
    health,
    ingestion,
    media,
    observations,
    observations_v1,
    otel,
    prompts,
    scores,
    sessions,
    traces,
)

# Prompts first: a prompt GET, the hot path, is then matched by the first route tried.
ROUTERS: list[APIRouter] = [
    prompts.router,
    health.router,
    datasets.router,
    dataset_runs.router,
    otel.router,
    ingestion.router,
    media.router,
    observations.router,
    observations_v1.router,
    traces.router,
    sessions.router,
    scores.router,
]
