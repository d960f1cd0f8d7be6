"""Component bundles are served as maximum-level Brotli once ready, the usual compression before, identical
bytes either way."""

import gzip
import re
import time

import brotli
import requests

from tests.conftest import upstream_env


def test_bundles_switch_to_brotli_without_making_anyone_wait(upstream, serve):
    server = serve(upstream_env(upstream))
    page = requests.get(server.url, timeout=10).text
    (bundle,) = re.findall(r'src="([^"]*feffery_markdown_components[^"]*\.js)"', page)
    url = f"{server.url}{bundle}"
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=30).content

    # The first request is answered at once with the usual fast compression, while q11 runs behind it.
    assert requests.get(url, headers={"Accept-Encoding": "gzip, br"}, timeout=30).content == plain

    gzip_size = len(gzip.compress(plain, 6))
    deadline = time.monotonic() + 60
    while True:
        later = requests.get(url, headers={"Accept-Encoding": "gzip, br"}, stream=True, timeout=30)
        compressed = later.raw.read()
        if len(compressed) < 0.85 * gzip_size or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert later.headers["Content-Encoding"] == "br"
    assert len(compressed) < 0.85 * gzip_size  # maximum-level Brotli, far below gzip
    assert brotli.decompress(compressed) == plain
    assert "Accept-Encoding" in later.headers["Vary"]
    # A client that does not accept br still gets gzip.
    only_gzip = requests.get(url, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert only_gzip.headers["Content-Encoding"] == "gzip" and only_gzip.content == plain
