"""The FAQ API on both databases: CRUD with roles, counts, cursor pages, all-or-nothing import."""

from __future__ import annotations

from pathlib import Path

from storage import faq as store

GUILD = 222222222222222222
BASE = f"/api/servers/{GUILD}/faq"
KB = Path(__file__).resolve().parents[2] / "docs" / "faq-eval" / "kb.md"
ENTRY = {
    "question": "When is the next mint?",
    "answer": "First Saturday of the month, 18:00 UTC.",
    "variants": ["mint date"],
    "tags": ["mint"],
}


async def test_crud_roles_and_counts(api, token, session_factory):
    viewer, moderator = await token("viewer", guild=GUILD), await token("moderator", guild=GUILD)
    assert (await api.post(BASE, json=ENTRY, headers=viewer)).status_code == 403
    created = await api.post(BASE, json=ENTRY, headers=moderator)
    assert created.status_code == 201
    entry = created.json()
    assert entry["language"] == "en" and entry["variants"] == ["mint date"]
    assert (entry["hits"], entry["helpful"], entry["not_helpful"]) == (0, 0, 0)

    async with session_factory() as session, session.begin():  # what the gateway records
        await store.record_hit(session, entry["id"])
        await store.record_feedback(session, GUILD, 900, 1, entry["id"], helpful=True)
        await store.record_feedback(session, GUILD, 900, 2, entry["id"], helpful=False)
        await store.record_feedback(session, GUILD, 900, 2, entry["id"], helpful=True)  # moved
        await store.record_feedback(session, GUILD, 900, 1, entry["id"], helpful=True)  # again
    read = (await api.get(f"{BASE}/{entry['id']}", headers=viewer)).json()
    assert (read["hits"], read["helpful"], read["not_helpful"]) == (1, 2, 0)
    assert read["updated_at"] == entry["updated_at"]  # counting is not an edit

    changed = {**ENTRY, "answer": "Saturday.", "language": "es"}
    put = await api.put(f"{BASE}/{entry['id']}", json=changed, headers=moderator)
    assert put.status_code == 200 and put.json()["answer"] == "Saturday."
    assert put.json()["helpful"] == 2  # the counts stay
    bad = await api.put(f"{BASE}/{entry['id']}", json={**ENTRY, "extra": 1}, headers=moderator)
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"

    assert (await api.delete(f"{BASE}/{entry['id']}", headers=moderator)).status_code == 204
    gone = await api.get(f"{BASE}/{entry['id']}", headers=viewer)
    assert gone.status_code == 404 and gone.json()["error"]["code"] == "not_found"
    other = await token("admin", guild=GUILD + 1)
    assert (await api.get(BASE, headers=other)).status_code == 403


async def test_list_pages_with_a_cursor_and_filters(api, token):
    admin = await token("admin", guild=GUILD)
    for i in range(5):
        body = {**ENTRY, "question": f"Question {i}?", "language": "de" if i % 2 else "en"}
        assert (await api.post(BASE, json=body, headers=admin)).status_code == 201
    first = (await api.get(BASE, headers=admin, params={"limit": 2})).json()
    assert [e["question"] for e in first["items"]] == ["Question 0?", "Question 1?"]
    second = (
        await api.get(BASE, headers=admin, params={"limit": 2, "cursor": first["next_cursor"]})
    ).json()
    assert [e["question"] for e in second["items"]] == ["Question 2?", "Question 3?"]
    german = (await api.get(BASE, headers=admin, params={"language": "de"})).json()
    assert [e["question"] for e in german["items"]] == ["Question 1?", "Question 3?"]
    assert german["next_cursor"] is None
    forged = await api.get(BASE, headers=admin, params={"cursor": "bm9wZQ"})
    assert forged.status_code == 422


async def test_markdown_import_of_the_eval_knowledge_base(api, token):
    admin = await token("admin", guild=GUILD)
    response = await api.post(
        f"{BASE}/import",
        content=KB.read_bytes(),
        headers={**admin, "Content-Type": "text/markdown"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["imported"] == 42
    by_question = {e["question"]: e for e in body["items"]}
    spanish = by_question["¿Cuándo es el próximo mint?"]
    assert spanish["language"] == "es" and spanish["tags"] == ["mint-date-es", "mint"]
    assert spanish["variants"][0] == "cuándo empieza el mint"
    listed = (await api.get(BASE, headers=admin, params={"limit": 100})).json()
    assert len(listed["items"]) == 42


async def test_a_bad_file_changes_nothing_and_lists_every_problem(api, token):
    admin, moderator = await token("admin", guild=GUILD), await token("moderator", guild=GUILD)
    await api.post(BASE, json=ENTRY, headers=admin)
    csv = (
        "question,answer,language,tags,variants\n"
        "Good question?,Good answer,en,a|b,c\n"
        "Empty answer?,,en,,\n"
        "Bad language?,Answer,english,,\n"
    )
    url = f"{BASE}/import?mode=replace"
    refused = await api.post(url, content=csv, headers={**admin, "Content-Type": "text/csv"})
    assert refused.status_code == 422
    error = refused.json()["error"]
    assert error["code"] == "invalid_file"
    assert error["details"] == [
        "line 3: the answer is empty",
        "line 4: language 'english' is not a code like 'en' or 'pt-BR'",
    ]
    items = (await api.get(BASE, headers=admin)).json()["items"]
    assert [e["question"] for e in items] == [ENTRY["question"]]  # replace did not happen

    assert (await api.post(url, content=csv, headers=moderator)).status_code == 403
    good = "question,answer\nOnly one?,Yes.\n"
    replaced = await api.post(url, content=good, headers=admin)  # CSV told by its header
    assert replaced.status_code == 200 and replaced.json()["replaced"] is True
    items = (await api.get(BASE, headers=admin)).json()["items"]
    assert [e["question"] for e in items] == ["Only one?"]
