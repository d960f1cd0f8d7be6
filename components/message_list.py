"""The conversation area; messages are added by assets/chat.js as the answers stream."""

import feffery_markdown_components as fmc
from dash import html

# chat.js renders every answer with fmc's FefferyMarkdown, but fmc's bundle (0.73 MB with Brotli, half of the
# first load) is not needed by the first screen: the page loads it itself, after the first render.
MARKDOWN_LIBRARY = fmc

# Only http(s), mailto, in-page and relative links survive; javascript:, data:, vbscript: and other schemes
# become inert. fmc evaluates this string as a JS function for every link it renders.
SAFE_LINK_FUNC = (
    "(href) => { const h = String(href || '').replace(/[\\u0000-\\u0020\\u007f-\\u009f]/g, '');"
    " return /^[a-z][a-z0-9+.-]*:/i.test(h) && !/^(https?|mailto):/i.test(h) ? '#blocked-link' : href; }"
)

# FefferyMarkdown settings for every answer (sent once to the page in the chat-config store).
MARKDOWN_PROPS = {
    "renderHtml": False,  # raw HTML in an answer is shown as text, never executed
    "linkTransformFunc": SAFE_LINK_FUNC,
    "codeFallBackLanguage": "text",  # gives language-less code blocks a copy button too
    "showLineNumbers": False,
    "wrapLongLines": False,
    "codeTheme": "gh-colors",
    "className": "chat-markdown",
}


def render(strings, embedded):
    """The scrollable message area with its empty-state welcome."""
    welcome = [html.Div(strings["welcome"], className="chat-welcome-title"),
               html.Div(strings["welcomeHint"], className="chat-welcome-hint")]
    if embedded:
        welcome.append(html.Div(strings["embeddedNotice"], className="chat-welcome-notice"))
    return html.Main(
        id="chat-scroll",
        className="chat-scroll",
        children=[
            # Long conversations render their tail; this shows the earlier messages (chat.js sets its text).
            html.Button(id="chat-earlier", className="chat-earlier", hidden=True),
            html.Div(id="chat-messages", className="chat-messages", children=[], **{"aria-live": "polite"}),
            html.Div(welcome, id="chat-welcome", className="chat-welcome"),
        ],
    )
