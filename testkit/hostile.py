"""A prompt-injected answer: every way Markdown could run a script or load something remote."""

HOSTILE = """Payloads:

[js](javascript:window.__xss=1) [js2]( JAVASCRIPT:window.__xss=2) [vb](vbscript:msgbox(1))

[data](data:text/html,<script>window.__xss=3</script>)

<script>window.__xss = 4</script>

<img src=x onerror="window.__xss=5">

<iframe srcdoc="<script>parent.__xss=6</script>"></iframe>

![leak](LEAK_URL)

[fine](https://example.com/docs) [relative](./about)
"""
