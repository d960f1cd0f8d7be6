"""Run every benchmark: `python -m bench` (or `python -m bench embedded_model streaming`)."""

import importlib
import sys

ALL = ["streaming", "first_token_visible", "resume", "concurrency", "generations", "wire_bytes", "first_load",
       "long_conversation", "embedded_model", "store", "admin_charts", "idle_memory", "viewer_worker", "redis_log",
       "upstream_request"]

for name in sys.argv[1:] or ALL:
    importlib.import_module(f"bench.{name}").main()
