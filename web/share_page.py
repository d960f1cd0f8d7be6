"""The read-only page behind a share link: plain HTML rendered on the server, with no script at all.

Answers go through the page's rules: raw HTML is shown as text, only http(s)/mailto/in-page/relative links
survive, and images become links (nothing remote loads). The Content-Security-Policy forbids scripts and remote
images anyway, and the page asks search engines not to index it.
"""

from html import escape

from markdown_it import MarkdownIt

from chatcore.export import safe_link

HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'",
    "X-Robots-Tag": "noindex, nofollow",
    "Cache-Control": "no-store",  # a revoked link must stop working at once, also in caches
}
STYLE = """body{font:16px/1.6 system-ui,sans-serif;max-width:760px;margin:0 auto;padding:16px;color:#1f1f1f}
h1{font-size:22px}.meta{opacity:.65;font-size:14px}.msg{margin:16px 0;padding:12px 16px;border-radius:8px}
.user{background:#e6f4ff;white-space:pre-wrap}.assistant{background:#f5f5f5}pre{overflow-x:auto;background:#fff;
padding:8px}.note{opacity:.65;font-size:14px}@media (prefers-color-scheme:dark){body{background:#141414;
color:#e6e6e6}.user{background:#15325b}.assistant{background:#1f1f1f}pre{background:#000}}"""


def _markdown():
    """A CommonMark renderer with raw HTML off, the page's link rule, and images shown as links."""
    md = MarkdownIt("commonmark", {"html": False})
    md.validateLink = safe_link

    def image(renderer, tokens, index, options, env):
        """An image becomes a link to it, labelled with its alt text."""
        token = tokens[index]
        label = escape(token.content or token.attrGet("src") or "")
        return f'<a href="{escape(token.attrGet("src") or "")}" rel="nofollow noopener noreferrer">{label}</a>'

    md.add_render_rule("image", image)
    return md


_MD = _markdown()


def render(snapshot, strings, lang) -> str:
    """The whole HTML document for one shared conversation."""
    parts = []
    for message in snapshot["messages"]:
        if message["role"] == "user":
            parts.append(f'<div class="msg user">{escape(message["content"])}</div>')
        else:
            note = "" if message.get("status") in (None, "done") else f'<p class="note">{escape(strings["answerInterrupted"])}</p>'
            parts.append(f'<div class="msg assistant">{_MD.render(message["content"])}{note}</div>')
    title = escape(snapshot["title"] or strings["title"])
    return (f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="robots" content="noindex, nofollow"><title>{title}</title><style>{STYLE}</style></head>'
            f'<body><h1>{title}</h1><p class="meta">{escape(strings["sharedSnapshot"])}</p>{"".join(parts)}</body></html>')
