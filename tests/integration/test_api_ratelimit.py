"""Per-token rate limits (429 + Retry-After) and failed-authentication accounting in the API."""

import logging

from api.ratelimit import AuthFailures, RateLimiter, TokenBucket
from dcs import metrics

GUILD = 111111111111111111


def _counted(counter) -> float:
    """A labelled counter's total over every label."""
    return sum(s.value for s in counter.collect()[0].samples if s.name.endswith("_total"))


URL = f"/api/servers/{GUILD}/config"


async def test_token_over_its_role_limit_gets_429_with_retry_after(api, token):
    api._transport.app.state.rate_limiter = RateLimiter(per_minute=3, admin_per_minute=5)
    viewer, other, admin = await token("viewer"), await token("viewer"), await token("admin")
    limited_before = _counted(metrics.API_RATE_LIMITED)
    for _ in range(3):
        assert (await api.get(URL, headers=viewer)).status_code == 200
    resp = await api.get(URL, headers=viewer)
    assert resp.status_code == 429
    assert resp.json()["error"]["code"] == "rate_limited"
    assert resp.json()["error"]["details"]["retry_after"] == int(resp.headers["Retry-After"])
    assert 1 <= int(resp.headers["Retry-After"]) <= 20  # one request refills in 60/3 s
    assert (await api.get(URL, headers=other)).status_code == 200  # buckets are per token
    statuses = [(await api.get(URL, headers=admin)).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]  # admins get their own, larger limit
    assert _counted(metrics.API_RATE_LIMITED) - limited_before == 2  # /metrics sees both


def test_bucket_refills_at_the_per_minute_rate():
    bucket = TokenBucket(capacity=2, tokens=2, updated=0)
    assert bucket.take(0) == 0 and bucket.take(0) == 0
    assert bucket.take(0) == 30  # 2 a minute: one every 30 s
    assert bucket.take(29) > 0
    assert bucket.take(31) == 0


async def test_failed_authentications_alert_without_logging_the_secret(api, caplog):
    api._transport.app.state.auth_failures = failures = AuthFailures(threshold=3)
    secret = "dcs_guessing-the-secret-part-xyz"
    caplog.set_level(logging.WARNING, logger="dcs.security")
    failed_before = _counted(metrics.API_AUTH_FAILURES)
    for _ in range(2):
        assert (
            await api.get(URL, headers={"Authorization": f"Bearer {secret}"})
        ).status_code == 401
    assert not any("ALERT" in r.getMessage() for r in caplog.records)
    assert (await api.get(URL)).status_code == 401  # no token at all counts for the IP too
    alerts = [r.getMessage() for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 1 and "ip:127.0.0.1" in alerts[0]
    assert failures.count("token:dcs_gues") == 2 and failures.count("ip:127.0.0.1") == 3
    assert _counted(metrics.API_AUTH_FAILURES) - failed_before == 3
    assert all("guessing-the-secret" not in r.getMessage() for r in caplog.records)
    for _ in range(3):  # one alert per key and window, not one per failure
        await api.get(URL, headers={"Authorization": "Bearer dcs_other"})
    alerts = [r.getMessage() for r in caplog.records if "ALERT" in r.getMessage()]
    assert len(alerts) == 2 and "token:dcs_othe" in alerts[1]
