"""Export a conversation to Markdown (the original app's feature), as plain text that renders inert."""

import re
from datetime import datetime

from chatcore.strings import DEFAULT_LANGUAGE, STRINGS

# Code spans and fences are copied verbatim; everything else is made inert.
_CODE = re.compile(r"(```[\s\S]*?(?:```|$)|~~~[\s\S]*?(?:~~~|$)|`[^`\n]*`)")
_UNSAFE_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data|file)\s*:[^()\s]*(?:\([^()]*\)[^()\s]*)*\)", re.I)
_UNSAFE_REFERENCE = re.compile(r"^(\s*\[[^\]]+\]:\s*)<?\s*(?:javascript|vbscript|data|file)\s*:\S*", re.I | re.M)
_REMOTE_IMAGE = re.compile(r"!\[([^\]]*)\]\((\s*<?(?:https?:)?//)", re.I)


_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f]")


def safe_link(href: str) -> bool:
    """The page's link rule (SAFE_LINK_FUNC in components/message_list.py): http(s), mailto, in-page, relative."""
    href = _INVISIBLE.sub("", href or "")
    return not _SCHEME.match(href) or href.lower().startswith(("http:", "https:", "mailto:"))


def inert_markdown(text: str) -> str:
    """Markdown that any viewer renders without running or loading anything.

    Raw HTML is escaped, script-like links point nowhere, and remote images become plain links
    (an image URL can carry data out of a prompt-injected answer). Code is left exactly as written.
    """
    parts = _CODE.split(text)
    for i in range(0, len(parts), 2):  # even parts are outside code
        part = parts[i].replace("<", "&lt;")
        part = _UNSAFE_LINK.sub("](#blocked-link)", part)
        part = _UNSAFE_REFERENCE.sub(r"\1#blocked-link", part)
        parts[i] = _REMOTE_IMAGE.sub(r"[🖼 \1](\2", part)
    return "".join(parts)


def _closed_fences(text: str) -> str:
    """The text with an unclosed code fence closed, so nothing after it (a </details>) is swallowed."""
    opener = None
    for line in text.splitlines():
        fence = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence and (opener is None or fence.group(1).startswith(opener)):
            opener = None if opener else fence.group(1)
    return f"{text}\n{opener}" if opener else text


def reasoning_section(reasoning: str, label: str) -> list:
    """The model's reasoning as a collapsed <details> block whose content stays inert Markdown."""
    return ["", f"<details><summary>{label}</summary>", "", _closed_fences(inert_markdown(reasoning.strip())), "",
            "</details>"]


def export_filename(now: datetime) -> str:
    """A filesystem-safe download name such as chat-20260305-114453.md."""
    return f"chat-{now:%Y%m%d-%H%M%S}.md"


def _fence(text: str) -> str:
    """A code fence longer than any backtick run inside the question, so it cannot be closed early."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def conversation_to_markdown(messages, now: datetime, model="", lang=DEFAULT_LANGUAGE, title="") -> str:
    """Render the conversation as Markdown: a heading per question, the question verbatim, the answer made inert."""
    labels = STRINGS.get(lang, STRINGS[DEFAULT_LANGUAGE])
    heading = inert_markdown(" ".join(title.split())) if title else labels["exportHeading"]
    lines = [f"# {heading}", "", f"- {labels['exportedAt']}: {now:%Y-%m-%d %H:%M:%S}"]
    if model:
        lines.append(f"- {labels['model']}: {model}")
    number = 0
    for message in messages:
        content = message.get("content", "")
        if message.get("role") == "user":
            number += 1
            fence = _fence(content)
            # The question is fenced as text: it is what the user typed, not Markdown to interpret.
            lines += ["", f"## {labels['question']} {number}", "", f"{fence}text", content, fence]
        elif message.get("role") == "assistant":
            note = labels["answerInterrupted"] if message.get("status") in ("error", "interrupted") else ""
            if message.get("stopped") or (message.get("usage") or {}).get("error") == "cancelled":  # Stop pressed
                note = labels["stopped"]
            lines += ["", f"### {labels['answer']} {number} {note}".rstrip()]
            if message.get("reasoning"):
                lines += reasoning_section(message["reasoning"], labels["reasoning"])
            lines += ["", inert_markdown(content.strip())]
    return "\n".join(lines) + "\n"
