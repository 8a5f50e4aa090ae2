"""`dcs token rotate ID`: the old secret stops working, the new one has the same scope and role."""

import argparse
from datetime import UTC, datetime, timedelta

from api.auth import hash_token
from dcs.settings import load_settings
from dcs.tokens import token_command
from storage.models import APIToken
from storage.tokens import find_token

GUILD = 111111111111111111
URL = f"/api/servers/{GUILD}/config"


async def test_rotate_revokes_and_prints_a_replacement_once(
    api, token, session_factory, migrated_db, capsys
):
    expires = datetime.now(UTC) + timedelta(days=30)
    old = await token("moderator", expires_at=expires)
    old_secret = old["Authorization"].removeprefix("Bearer ")
    async with session_factory() as session:
        row = await find_token(session, hash_token(old_secret), now=datetime.now(UTC))
        assert row is not None
        old_id, old_created = row.id, row.created_at
    settings = load_settings(database_url=migrated_db)
    args = argparse.Namespace(subcommand="rotate", token_id=old_id)
    assert await token_command(settings, args) == 0
    new_secret = capsys.readouterr().out.strip().splitlines()[-1]
    assert new_secret.startswith("dcs_") and new_secret != old_secret
    assert (await api.get(URL, headers=old)).status_code == 401
    new = {"Authorization": f"Bearer {new_secret}"}
    assert (await api.get(URL, headers=new)).status_code == 200
    async with session_factory() as session:
        replacement = await find_token(session, hash_token(new_secret), now=datetime.now(UTC))
        assert replacement is not None
        assert (replacement.role, replacement.guild_id) == ("moderator", GUILD)
        assert replacement.expires_at is not None
        lifetime = replacement.expires_at - replacement.created_at
        assert abs(lifetime - (expires - old_created)) < timedelta(seconds=5)
        assert (await session.get(APIToken, old_id)).revoked_at is not None
    # a revoked token cannot be rotated (nor an unknown id)
    assert await token_command(settings, args) == 1
    assert await token_command(settings, argparse.Namespace(subcommand="rotate", token_id=999)) == 1
