"""Routers, one module per area of the public API; the app includes them in this order."""

from fastapi import APIRouter

from local_langfuse.routes import datasets, health, prompts

ROUTERS: list[APIRouter] = [
    health.router,
    prompts.router,
    datasets.router,
]
