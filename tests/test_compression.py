"""Component bundles are served as maximum-level Brotli once ready, the usual compression before, identical
bytes either way."""

import gzip
import re

import brotli
import requests

from testkit.app import upstream_env
from testkit.waiting import wait_until


def test_bundles_switch_to_brotli_without_making_anyone_wait(upstream, serve):
    server = serve(upstream_env(upstream))
    page = requests.get(server.url, timeout=10).text
    (bundle,) = re.findall(r'src="([^"]*feffery_antd_components[^"]*\.js)"', page)
    url = f"{server.url}{bundle}"
    plain = requests.get(url, headers={"Accept-Encoding": "identity"}, timeout=30).content

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
