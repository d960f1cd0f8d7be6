"""Access code and per-IP rate limits, including limits shared by two app instances through a real Redis."""

import requests

from testkit.app import upstream_env
from testkit.gunicorn_app import GunicornApp

QUESTION = {"model": "scripted", "messages": [{"role": "user", "content": "hi"}]}


def post(url, code=None):
    """One non-streaming question, with an access code if given."""
    headers = {"Authorization": f"Bearer {code}"} if code is not None else {}
    return requests.post(f"{url}/v1/chat/completions", json=QUESTION, headers=headers, timeout=30)


def test_rate_limit_answers_429_in_openai_format(upstream, serve):
    server = serve(upstream_env(upstream, RATE_LIMIT="3/minute"))
    assert [post(server.url).status_code for _ in range(3)] == [200, 200, 200]
    refused = post(server.url)
    assert refused.status_code == 429
    assert refused.json()["error"]["code"] == "rate_limited"
    assert int(refused.headers["Retry-After"]) > 0
    assert len(upstream.requests) == 3  # the refused request never reached the model


def test_access_code_guards_the_model_routes(upstream, serve):
    server = serve(upstream_env(upstream, ACCESS_CODE="open-sesame"))
    for code in (None, "", "wrong", "open-sesame "[:-2]):
        response = post(server.url, code)
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_access_code"
    assert post(server.url, "open-sesame").status_code == 200
    assert requests.get(f"{server.url}/healthz", timeout=5).status_code == 200  # reaches no model
    assert "open-sesame" not in requests.get(server.url, timeout=5).text
    assert len(upstream.requests) == 1


def test_repeated_wrong_codes_from_one_ip_are_blocked(upstream, serve):
    server = serve(upstream_env(upstream, ACCESS_CODE="open-sesame"))
    statuses = [post(server.url, f"guess-{i}").status_code for i in range(12)]
    assert statuses[:10] == [401] * 10 and statuses[10:] == [429, 429]
    assert post(server.url, "open-sesame").status_code == 429  # blocked for the rest of the window
    assert upstream.requests == []


def test_limits_hold_across_two_instances_sharing_redis(upstream, redis_url):
    env = upstream_env(upstream, RATE_LIMIT="6/minute", RATE_LIMIT_STORAGE_URI=redis_url)
    # Two instances, each with the shipped config's two workers: four processes share one budget.
    with GunicornApp(env) as first, GunicornApp(env) as second:
        statuses = [post(app.url).status_code for app in (first, second) * 3]
        assert statuses == [200] * 6
        assert post(first.url).status_code == 429
        assert post(second.url).status_code == 429
    assert len(upstream.requests) == 6
