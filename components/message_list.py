"""The conversation area, and every message in it rendered from the store (assets/chat.js only fills in the
answer that is streaming)."""

import re

import feffery_markdown_components as fmc
from dash import html

from chatcore import attachments
from components import ids

# The page does not need fmc's bundle (0.73 MB with Brotli, half of the first load) for its first screen: chat.js
# loads it after the first render, and answers show as plain text until then.
MARKDOWN_LIBRARY = fmc

# Only http(s), mailto, in-page and relative links survive; javascript:, data:, vbscript: and other schemes
# become inert. fmc evaluates this string as a JS function for every link it renders.
SAFE_LINK_FUNC = (
    "(href) => { const h = String(href || '').replace(/[\\u0000-\\u0020\\u007f-\\u009f]/g, '');"
    " return /^[a-z][a-z0-9+.-]*:/i.test(h) && !/^(https?|mailto):/i.test(h) ? '#blocked-link' : href; }"
)

MARKDOWN_PROPS = {
    "renderHtml": False,  # raw HTML in an answer is shown as text, never executed
    "linkTransformFunc": SAFE_LINK_FUNC,
    "codeFallBackLanguage": "text",  # gives language-less code blocks a copy button too
    "showLineNumbers": False,
    "wrapLongLines": False,
    "className": "chat-markdown",
}
CODE_THEMES = {False: "gh-colors", True: "a11y-dark"}

WINDOW = 64  # messages shown at once; "show earlier" adds as many again

_CODE = re.compile(r"(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`)")
_REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((\s*<?(?:https?:)?//)", re.IGNORECASE)


def display_markdown(text: str) -> str:
    """Remote images become plain links (outside code): an image URL in a prompt-injected answer could carry data
    out. The Content-Security-Policy refuses them too; this keeps them visible and clickable."""
    return "".join(part if i % 2 else _REMOTE_IMAGE.sub(r"[🖼 \1](\2", part) for i, part in enumerate(_CODE.split(text)))


def render(strings, embedded):
    """The scrollable message area with its empty-state welcome."""
    welcome = [html.Div(strings["welcome"], className="chat-welcome-title"),
               html.Div(strings["welcomeHint"], className="chat-welcome-hint")]
    if embedded:
        welcome.append(html.Div(strings["embeddedNotice"], className="chat-welcome-notice"))
    return html.Main(
        id=ids.SCROLL,
        className="chat-scroll",
        children=[
            html.Button(id=ids.EARLIER, className="chat-earlier", hidden=True),
            # The conversation as drawn, then the turns asked since: a new turn never redraws a long history.
            html.Div(id=ids.MESSAGES, className="chat-messages", **{"aria-live": "polite"}, children=[
                html.Div(id=ids.HISTORY, className="chat-turns"), html.Div(id=ids.RECENT, className="chat-turns")]),
            html.Div(welcome, id=ids.WELCOME, className="chat-welcome"),
        ],
    )


class View:
    """How messages are drawn on this page load: language, whether fmc is loaded, light or dark."""

    def __init__(self, strings, errors, markdown=False, dark=False):
        self.strings, self.errors, self.markdown, self.dark = strings, errors, markdown, dark

    def icon_button(self, kind, label, icon, seq):
        """A small icon button (the icon is drawn by CSS); chat.js reads its class and data-index on click."""
        return html.Button(className=f"chat-icon-button chat-icon-{icon} {kind}", title=label,
                           **{"aria-label": label, "data-index": str(seq)})

    def stats(self, msg) -> str:
        """'model · first token 320 ms · 42.0 tok/s · in 12 · out 128 tokens (estimated)'."""
        usage, parts = msg.get("usage") or {}, [msg["model"]] if msg.get("model") else []
        timing = usage.get("timing") or {}
        first, total = timing.get("first_token_ms"), timing.get("total_ms")
        if first is not None:
            parts.append(self.strings["statsFirstToken"].format(ms=first))
        out = usage.get("completion_tokens")
        if out and first is not None and total and total > first:
            parts.append(f"{out / ((total - first) / 1000):.1f} tok/s")
        if out is not None and usage.get("prompt_tokens") is not None:
            reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens")
            parts.append(self.strings["statsUsage"].format(prompt=usage["prompt_tokens"], completion=out)
                         + (self.strings["statsReasoning"].format(n=reasoning) if reasoning else "")
                         + (self.strings["statsEstimated"] if usage.get("estimated") else ""))
        return " · ".join(parts)

    def answer(self, msg):
        """The answer text: Markdown once fmc is loaded, plain text until then."""
        seq, text, live = msg["seq"], msg["content"], msg["status"] == "streaming"
        if not self.markdown:
            return html.Div(text or ("…" if live else ""), id=ids.answer(seq), className="chat-text")
        return fmc.FefferyMarkdown(id=ids.answer(seq), markdownStr=display_markdown(text),
                                   placeholder="…" if live else "", codeTheme=CODE_THEMES[self.dark],
                                   **MARKDOWN_PROPS)

    def reasoning(self, msg):
        """The model's thinking above the answer: open while it thinks, then collapsed behind its duration.

        A streaming answer always has the block (hidden while empty) so chat.js can fill it in."""
        seq, text, live = msg["seq"], msg.get("reasoning") or "", msg["status"] == "streaming"
        if not text and not live:
            return None
        thought = ((msg.get("usage") or {}).get("timing") or {}).get("thought_ms")
        label = self.strings["thinking"] if live else self.strings["reasoning"]
        if thought is not None and not live:
            label = self.strings["thoughtFor"].format(n=round(thought / 1000, 1))
        return html.Details([html.Summary(label, id=ids.think_label(seq)),
                             html.Div(text, id=ids.think_text(seq), className="chat-reasoning-text")],
                            id=ids.think(seq), className="chat-reasoning", open=live and not msg["content"],
                            hidden=not text)

    def failure(self, msg):
        """What went wrong with an answer, and Retry."""
        code = (msg.get("usage") or {}).get("error") or "default"
        text = self.errors.get(code, self.errors["default"])
        if msg["content"]:
            text = f"{self.strings['interrupted']} {text}"
        return html.Div([html.Div(text, className="chat-error-text"),
                         html.Button(self.strings["retry"], className="chat-retry", **{"data-index": str(msg["seq"])})],
                        className="chat-error", role="alert")

    def files(self, msg):
        """A question's files: images as thumbnails, text and PDFs as chips, each opening the file in a new tab.

        Drawn from their summary: a full image or a file's text can be MBs, and the route serves them on demand."""
        shown = []
        for n, item in enumerate(attachments.summary(msg.get("attachments"))):
            link = {"href": f"/api/messages/{msg['id']}/attachments/{n}", "target": "_blank", "rel": "noopener",
                    "title": item["name"]}
            if item["kind"] == "image":
                shown.append(html.A(html.Img(src=item["thumb_url"], alt=item["name"], className="chat-thumb"),
                                    className="chat-file chat-file--image", **link))
            else:
                shown.append(html.A([html.Span(item["name"], className="chat-file-name"),
                                     html.Span(attachments.readable_size(item["size"]), className="chat-file-size")],
                                    className="chat-file chat-file--text", **link))
        return html.Div(shown, className="chat-files") if shown else None

    def body(self, msg):
        """The children of one message."""
        seq, s = msg["seq"], self.strings
        if msg["role"] == "user":
            # Questions are shown as typed (no Markdown), like the big chat UIs.
            children = [self.files(msg), html.Div(msg["content"], className="chat-text") if msg["content"] else None,
                        html.Div([self.icon_button("msg-edit", s["edit"], "edit", seq),
                                  self.icon_button("msg-delete", s["deleteTurn"], "delete", seq)],
                                 className="chat-actions")]
            return [child for child in children if child is not None]
        children = [self.reasoning(msg), self.answer(msg)]
        usage = msg.get("usage") or {}
        error = usage.get("error")
        if msg["status"] == "streaming":
            return [child for child in children if child is not None]
        if usage.get("trimmed"):
            children.append(html.Div(s["trimmed"].format(n=usage["trimmed"]), className="chat-note chat-note--trimmed"))
        if error == "cancelled":
            children.append(html.Div(s["stopped"], className="chat-note"))
        elif msg["status"] in ("error", "interrupted"):
            children.append(self.failure(msg))
        buttons = [self.icon_button("msg-copy", s["copy"], "copy", seq),
                   self.icon_button("msg-regenerate", s["regenerate"], "reload", seq),
                   self.icon_button("msg-delete", s["deleteTurn"], "delete", seq)]
        stats = self.stats(msg)
        if stats:
            buttons.append(html.Span(stats, className="chat-stats"))
        children.append(html.Div(buttons, className="chat-actions"))
        return [child for child in children if child is not None]

    def message(self, msg):
        """One message; an answer says whether it is streaming, done or failed (a stopped one is done)."""
        attrs = {"data-role": msg["role"], "data-id": msg["id"]}
        if msg["role"] == "assistant":
            stopped = (msg.get("usage") or {}).get("error") == "cancelled"
            attrs["data-status"] = {"streaming": "streaming", "done": "done"}.get(
                msg["status"], "done" if stopped else "error")
        return html.Div(self.body(msg), id=ids.message(msg["seq"]),
                        className=f"chat-message chat-message--{msg['role']}", **attrs)

    def messages(self, messages):
        """Every message of a conversation's window."""
        return [self.message(m) for m in messages]
