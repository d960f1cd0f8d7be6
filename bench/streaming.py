"""Streaming overhead: first-token time through the app (gunicorn, shipped config) minus the same
scripted upstream called directly, alternating requests in one run; medians and p99."""

from bench.common import median, percentile, print_table, stream_timing
from testkit.app import upstream_env
from testkit.gunicorn_app import GunicornApp
from testkit.upstream import Script, ScriptedUpstream

RUNS = 200


def main():
    """Alternate direct and through-the-app requests; print first-token times and the overhead."""
    with ScriptedUpstream() as upstream, GunicornApp(upstream_env(upstream)) as app:
        upstream.script = Script(reply="hello world " * 20, chunk_chars=6)
        body = {"model": "scripted", "stream": True, "messages": [{"role": "user", "content": "hi"}]}
        direct_url, app_url = f"{upstream.url}/chat/completions", f"{app.url}/v1/chat/completions"
        for _ in range(10):  # warm-up: worker imports, connection pools
            stream_timing(app_url, body)
        direct, through = [], []
        for _ in range(RUNS):
            direct.append(stream_timing(direct_url, body)[0] * 1000)
            through.append(stream_timing(app_url, body)[0] * 1000)
    overhead = [a - d for a, d in zip(through, direct)]
    rows = [[name, f"{median(v):.1f}", f"{percentile(v, 99):.1f}"]
            for name, v in (("upstream direct", direct), ("through the app", through), ("overhead (app - direct)", overhead))]
    print_table(f"Streaming first-token time, 1 stream, {RUNS} alternating requests (ms)", rows, ["path", "median", "p99"])


if __name__ == "__main__":
    main()
