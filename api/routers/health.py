"""Liveness: the process answers (readiness checks arrive with the operations feature)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/health")
async def health() -> dict[str, str]:
    """The API process is up."""
    return {"status": "ok"}
