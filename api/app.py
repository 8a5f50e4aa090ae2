"""The management API: FastAPI app with one router per resource."""

from __future__ import annotations

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import install_error_handlers
from api.routers import health, moderation, servers


def create_app(sessions: async_sessionmaker[AsyncSession]) -> FastAPI:
    """Build the app around an injected session factory (tests pass their own)."""
    app = FastAPI(
        title="Discord Community Suite",
        version="0.1.0",
        description="Management API: configuration, moderation, users, tickets, events.",
    )
    app.state.sessions = sessions
    install_error_handlers(app)
    for module in (health, servers, moderation):
        app.include_router(module.router)
    return app
