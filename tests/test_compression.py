"""Component bundles are served as maximum-level Brotli once ready, the usual compression before, identical
bytes either way."""

import gzip
import json
import re

import brotli
import psutil
import requests

from testkit.app import upstream_env
from testkit.gunicorn_app import GunicornApp
from testkit.waiting import wait_until


def test_bundles_switch_to_brotli_without_making_anyone_wait(upstream, serve):
    server = serve(upstream_env(upstream))
    url, plain = _bundle(server.url)

    # The first request is answered at once with the usual fast compression, while q11 runs behind it.
    assert requests.get(url, headers={"Accept-Encoding": "gzip, br"}, timeout=30).content == plain

    gzip_size = len(gzip.compress(plain, 6))

    def maximum_brotli():
        response = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=30)
        body = response.raw.read()
        return (response, body) if len(body) < 0.85 * gzip_size else None  # far below gzip: quality 11

    later, compressed = wait_until(maximum_brotli, 60, "the Brotli bundle")
    assert later.headers["Content-Encoding"] == "br"
    assert brotli.decompress(compressed) == plain
    assert "Accept-Encoding" in later.headers["Vary"]
    # A client that does not accept br still gets gzip.
    only_gzip = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert only_gzip.headers["Content-Encoding"] == "gzip" and only_gzip.content == plain


def test_under_gunicorn_a_child_compresses_once_and_the_next_start_serves_brotli_at_once(upstream, tmp_path):
    env = upstream_env(upstream, DATA_DIR=str(tmp_path))
    with GunicornApp(env) as app:
        url, plain = _bundle(app.url)
        assert _best_brotli(url, plain) is None  # the first request: the quick compression, while a child works
        wait_until(lambda: _best_brotli(url, plain), 60, "the Brotli bundle")
        workers = psutil.Process(app.process.pid).children()
        wait_until(lambda: not [child for worker in workers for child in worker.children()], 10,
                   "the compressing children to end and be reaped (no zombies)")
    assert list((tmp_path / "bundles").glob("*.js")) == []  # nothing left half-done
    with GunicornApp(env) as app:
        url, plain = _bundle(app.url)
        assert brotli.decompress(_best_brotli(url, plain)) == plain  # from the disk cache, on the first request


def _bundle(base):
    """The URL of fac's bundle (the page config names it: chat.js loads it) at `base`, and its plain bytes."""
    layout = requests.get(f"{base}/_dash-layout", timeout=10).text
    bundle = json.loads('"' + re.search(r'"antdBundle":\s*"([^"]+)"', layout).group(1) + '"')
    url = f"{base}{bundle}"
    return url, requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=30).content


def _best_brotli(url, plain):
    """The body served for `url` if it is Brotli at its best level (far below gzip), else None."""
    response = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=30)
    body = response.raw.read()
    best = response.headers.get("Content-Encoding") == "br" and len(body) < 0.85 * len(gzip.compress(plain, 6))
    return body if best else None


def test_a_cache_folder_that_cannot_be_written_leaves_the_bundles_served(upstream, serve, tmp_path):
    (tmp_path / "bundles").write_text("a file where the folder would go")
    server = serve(upstream_env(upstream, DATA_DIR=str(tmp_path)))
    url, plain = _bundle(server.url)
    for _ in range(2):
        response = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, timeout=30)
        assert response.status_code == 200 and response.content == plain
