"""HTTP tests: every reasoning form a backend sends comes out of /v1 as OpenAI `reasoning_content`."""

import pytest

from testkit.api_client import answer_text, ask, read_events
from testkit.app import upstream_env
from testkit.upstream import Script

FORMS = ["reasoning_content", "reasoning", "both", "think"]
THOUGHT = "The user greets me; 2 < 3, so <b>answer</b> politely."
ANSWER = "Hello there!"


def reasoning_text(events):
    """Concatenate the reasoning deltas of chunk events."""
    return "".join(e["choices"][0]["delta"].get("reasoning_content") or "" for e in events
                   if isinstance(e, dict) and e.get("choices"))


@pytest.mark.parametrize("form", FORMS)
def test_stream_passes_the_reasoning_through_apart_from_the_answer(upstream, serve, form):
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT, reasoning_form=form)
    events = read_events(ask(serve(upstream_env(upstream))))
    assert (reasoning_text(events), answer_text(events)) == (THOUGHT, ANSWER)
    assert events[-1] == "[DONE]"


@pytest.mark.parametrize("form", FORMS)
def test_non_stream_answer_has_the_reasoning_in_its_own_field(upstream, serve, form):
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT, reasoning_form=form)
    message = ask(serve(upstream_env(upstream)), stream=False).json()["choices"][0]["message"]
    assert message == {"role": "assistant", "content": ANSWER, "reasoning_content": THOUGHT}


def test_no_chunk_carries_both_reasoning_and_answer(upstream, serve):
    # One character per chunk and no merge window in the upstream: the app merges runs, never the two kinds.
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT, reasoning_form="think", chunk_chars=1)
    events = read_events(ask(serve(upstream_env(upstream))))
    deltas = [e["choices"][0]["delta"] for e in events if isinstance(e, dict) and e.get("choices")]
    assert not any(d.get("content") and d.get("reasoning_content") for d in deltas)
    kinds = [k for d in deltas for k in ("reasoning_content", "content") if d.get(k)]
    assert kinds == sorted(kinds, key=lambda k: k == "content")  # all reasoning first, then the answer


@pytest.mark.parametrize("form,kept", [("think", 5 * 4 - len("<think>")), ("reasoning_content", 5 * 4)])
def test_a_stream_cut_inside_the_reasoning_keeps_it_and_is_marked_interrupted(upstream, serve, form, kept):
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT, reasoning_form=form, cut_after=5)  # 5 chunks of 4
    events = read_events(ask(serve(upstream_env(upstream))))
    assert reasoning_text(events) == THOUGHT[:kept]
    assert answer_text(events) == ""
    assert events[-1]["error"]["code"] == "stream_interrupted"


def test_reasoning_tokens_are_reported_in_the_usage(upstream, serve):
    upstream.script = Script(reply=ANSWER, reasoning=THOUGHT, reasoning_form="reasoning_content")
    events = read_events(ask(serve(upstream_env(upstream)), stream_options={"include_usage": True}))
    usage = next(e["usage"] for e in events if isinstance(e, dict) and e.get("usage"))
    assert usage["completion_tokens_details"] == {"reasoning_tokens": len(THOUGHT) // 4 + 1}


def test_merged_deltas_keep_reasoning_and_answer_in_separate_chunks_in_order():
    from chatcore.providers.base import Finish, Reasoning
    from testkit.api_client import parsed, service_writes

    def items():
        yield Reasoning("a")
        yield from (Reasoning("b"), Reasoning("c"), "X", "Y", Reasoning("late"), "Z", Finish("stop"))

    writes = list(service_writes(60, items()))  # a window no test run reaches: everything after "a" merges
    merged = [e["choices"][0]["delta"] for e in parsed(writes[-1])[:-2]]
    assert merged == [{"reasoning_content": "bc"}, {"content": "XY"}, {"reasoning_content": "late"}, {"content": "Z"}]
