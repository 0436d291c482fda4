"""Routers, one module per area of the public API; the app includes them in this order."""

from fastapi import APIRouter

from local_langfuse.routes import datasets, health, observations, otel, prompts, scores, traces

ROUTERS: list[APIRouter] = [
    health.router,
    prompts.router,
    datasets.router,
    otel.router,
    observations.router,
    traces.router,
    scores.router,
]
