"""Unit tests of the <think> splitter: reasoning apart from the answer, whatever the chunking."""

import pytest

from chatcore.providers.base import Reasoning
from chatcore.reasoning import ThinkSplitter


def split(chunks):
    """Feed all chunks and finish; return (reasoning, answer) as joined strings."""
    splitter = ThinkSplitter()
    items = [item for chunk in chunks for item in splitter.feed(chunk)] + splitter.finish()
    reasoning = "".join(i for i in items if isinstance(i, Reasoning))
    answer = "".join(i for i in items if not isinstance(i, Reasoning))
    return reasoning, answer


def every_split(text):
    """The text cut into two chunks at every position."""
    return [[text[:i], text[i:]] for i in range(len(text) + 1)]


def test_a_think_block_at_the_start_is_reasoning():
    assert split(["<think>Let me see.</think>\n\nIt is 4."]) == ("Let me see.", "It is 4.")


@pytest.mark.parametrize("chunks", every_split("<think>plan</think>\n\nanswer"))
def test_tags_split_anywhere_between_chunks(chunks):
    assert split(chunks) == ("plan", "answer")


def test_one_character_per_chunk():
    assert split(list("  <think>a < b</think>ok")) == ("a < b", "ok")


def test_a_stream_cut_inside_the_tag_keeps_the_partial_reasoning():
    assert split(["<think>half a thou", "ght</th"]) == ("half a thought</th", "")


def test_a_stream_cut_inside_the_opening_tag_is_answer_text():
    assert split(["<thi"]) == ("", "<thi")


def test_an_answer_without_the_tag_passes_through_unchanged():
    assert split(["Hello", " <think>not reasoning</think>"]) == ("", "Hello <think>not reasoning</think>")


def test_reasoning_is_emitted_as_it_arrives():
    splitter = ThinkSplitter()
    assert splitter.feed("<think>first ") == [Reasoning("first ")]
    assert splitter.feed("second</") == [Reasoning("second")]
    assert splitter.feed("think>Answer") == ["Answer"]


def test_every_providers_stream_is_split_the_same_way_and_closing_it_closes_the_provider():
    from chatcore.providers.base import Finish
    from chatcore.reasoning import split_thinking

    closed = []

    def provider():
        """A provider's deltas, as the embedded model sends them: the think tag split across pieces."""
        try:
            yield from ["<th", "ink>plan", " it</thi", "nk>\n\nThe answer", " goes on"]
            yield Finish("stop")
        finally:
            closed.append(True)

    items = list(split_thinking(provider()))
    assert items[-1] == Finish("stop") and closed == [True]
    assert [(type(i).__name__, str(i)) for i in items[:-1]] == [
        ("Reasoning", "plan"), ("Reasoning", " it"), ("str", "The answer"), ("str", " goes on")]
    # Stop: closing the split stream mid-answer closes the provider's at once (its upstream request ends).
    closed.clear()
    stream = split_thinking(provider())
    next(stream)
    stream.close()
    assert closed == [True]
