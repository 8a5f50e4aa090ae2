"""The management API: FastAPI app with one router per resource."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi_offline import FastAPIOffline
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from api.errors import install_error_handlers
from api.routers import health, leaderboard, moderation, servers, users


def create_app(sessions: async_sessionmaker[AsyncSession]) -> FastAPI:
    """Build the app around an injected session factory (tests pass their own)."""
    app = FastAPIOffline(  # Swagger UI and ReDoc served locally: self-hosted means no CDN
        title="Discord Community Suite",
        version="0.1.0",
        description="Management API: configuration, moderation, users, tickets, events.",
    )
    app.state.sessions = sessions
    install_error_handlers(app)
    for module in (health, servers, moderation, users, leaderboard):
        app.include_router(module.router)
    return app
