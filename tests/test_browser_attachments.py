"""Browser tests of files in the question: picked with #chat-attach, sent to the model, shown in the question
(after a reload too), and refused with everything kept in the box."""

import base64

from PIL import Image
from selenium.webdriver.common.by import By

from components import ids
from testkit.browser import (PAGE_IDS, click, start, stored_conversations, toast, type_and_send, wait_for_answer,
                             wait_until)
from testkit.strings import ZH_ERRORS
from testkit.upstream import Script

NOTE = "remember the number 4711"


def make_files(tmp_path):
    """A real PNG (made with Pillow) and a text file, as a person would pick them."""
    image = tmp_path / "red dot.png"
    Image.new("RGB", (64, 48), (220, 30, 30)).save(image)
    text = tmp_path / "notes.txt"
    text.write_text(NOTE + "\n")
    return image, text


def pick(dash_duo, *paths):
    """Choose files in #chat-attach's file input, as its file picker does."""
    field = dash_duo.find_element(f"#{ids.ATTACH} input[type='file']")
    field.send_keys("\n".join(str(path) for path in paths))
    names = [path.name for path in paths]
    wait_until(dash_duo, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".chat-attach-chip")] == names,
               message="the picked files never showed as chips")


def remove_all(dash_duo):
    """Remove the files picked with #chat-attach-clear."""
    click(dash_duo, f"#{ids.ATTACH_CLEAR}")
    wait_until(dash_duo, lambda d: not d.find_elements(By.CSS_SELECTOR, ".chat-attach-chip"),
               message="the chips stayed after removing the files")


def question_files(dash_duo):
    """(thumbnail alts, chip texts) of the question on screen."""
    driver = dash_duo.driver
    thumbs = driver.find_elements(By.CSS_SELECTOR, ".chat-message[data-role='user'] img.chat-thumb")
    chips = driver.find_elements(By.CSS_SELECTOR, ".chat-message[data-role='user'] .chat-file--text")
    return [t.get_attribute("alt") for t in thumbs], [c.text for c in chips]


def test_an_image_and_a_text_file_reach_the_model_and_stay_shown(dash_duo, upstream, tmp_path):
    image, text = make_files(tmp_path)
    upstream.script = Script(reply="A red dot, and a note.")  # not an echo: the page must not hold the file's text
    start(dash_duo, upstream)
    pick(dash_duo, image, text)
    type_and_send(dash_duo, "What is in these?")
    wait_for_answer(dash_duo, 0)

    parts = upstream.requests[-1]["body"]["messages"][-1]["content"]
    kinds = [part["type"] for part in parts]
    assert kinds.count("image_url") == 1 and parts[-1]["image_url"]["url"].startswith("data:image/")
    said = " ".join(part["text"] for part in parts if part["type"] == "text")
    assert "What is in these?" in said and NOTE in said and "notes.txt" in said

    # Sent: the box and the chips are empty; the question shows the thumbnail (a small copy) and the chip.
    wait_until(dash_duo, lambda d: not d.find_element(By.CSS_SELECTOR, f"#{ids.ATTACH_LIST}").is_displayed(),
               message="the chips stayed after sending")
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == ""
    for _ in range(2):  # drawn from the store: the same after a reload
        wait_until(dash_duo, lambda d: question_files(dash_duo)[0] == ["red dot.png"], message="no thumbnail")
        alts, chips = question_files(dash_duo)
        assert len(chips) == 1 and chips[0].startswith("notes.txt")
        thumb = dash_duo.find_element(".chat-message[data-role='user'] img.chat-thumb")
        assert thumb.get_attribute("src").startswith("data:image/")
        assert dash_duo.driver.execute_script("return arguments[0].naturalWidth", thumb) == 64  # it loaded
        link = dash_duo.find_element(".chat-message[data-role='user'] a.chat-file--image")
        assert link.get_attribute("target") == "_blank" and "/attachments/0" in link.get_attribute("href")
        dash_duo.driver.refresh()
        wait_for_answer(dash_duo, 0)

    # The page holds thumbnails and names, never a file's text.
    assert NOTE not in dash_duo.driver.page_source
    stored = stored_conversations(dash_duo)
    assert [m["role"] for m in stored[0]["messages"]] == ["user", "assistant"]

    # Asked again (regenerate), the question keeps its files and the model gets them as before.
    click(dash_duo, ".chat-message[data-role='assistant'] .msg-regenerate")
    wait_until(dash_duo, lambda d: len(upstream.requests) == 2, message="never asked again")
    wait_for_answer(dash_duo, 0)
    assert upstream.requests[1]["body"]["messages"][-1] == upstream.requests[0]["body"]["messages"][-1]
    assert question_files(dash_duo)[0] == ["red dot.png"] and len(question_files(dash_duo)[1]) == 1


def test_a_model_without_vision_refuses_an_image_and_keeps_everything(dash_duo, upstream, tmp_path):
    image, _text = make_files(tmp_path)
    start(dash_duo, upstream, VISION_MODELS="none")
    pick(dash_duo, image)
    type_and_send(dash_duo, "Describe it")
    wait_until(dash_duo, lambda d: ZH_ERRORS["model_without_vision"] in toast(d),
               message="no localized refusal")
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == "Describe it"
    assert [c.text for c in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-attach-chip")] == [image.name]
    assert dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-message") == []
    assert stored_conversations(dash_duo) == [] and upstream.requests == []

    remove_all(dash_duo)
    pick(dash_duo, image)  # the same file can be picked again once removed
    remove_all(dash_duo)  # and without it the same question goes through
    click(dash_duo, f"#{ids.SEND}")
    wait_for_answer(dash_duo, 0)
    assert upstream.requests[-1]["body"]["messages"][-1]["content"] == "Describe it"


def test_an_edit_with_a_refused_image_changes_nothing(dash_duo, upstream, tmp_path):
    image, _text = make_files(tmp_path)
    start(dash_duo, upstream, VISION_MODELS="none")
    type_and_send(dash_duo, "first")
    wait_for_answer(dash_duo, 0)
    before = stored_conversations(dash_duo)[0]["messages"]
    click(dash_duo, ".chat-message[data-role='user'] .msg-edit")
    wait_until(dash_duo, lambda d: d.find_element(By.CSS_SELECTOR, f"#{ids.INPUT}").get_attribute("value") == "first",
               message="the question never came back into the box")
    pick(dash_duo, image)
    click(dash_duo, f"#{ids.SEND}")
    wait_until(dash_duo, lambda d: ZH_ERRORS["model_without_vision"] in toast(d),
               message="no localized refusal")
    assert stored_conversations(dash_duo)[0]["messages"] == before  # the edited turn was put back as it was
    assert dash_duo.find_element(f"#{ids.INPUT}").get_attribute("value") == "first"
    assert dash_duo.find_element(f"#{ids.EDIT_BANNER}").is_displayed()
    assert [c.text for c in dash_duo.driver.find_elements(By.CSS_SELECTOR, ".chat-attach-chip")] == [image.name]
    assert len(upstream.requests) == 1


PASTE = PAGE_IDS + """
const [data, name] = arguments;
const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
const clipboard = new DataTransfer();
clipboard.items.add(new File([bytes], name, {type: 'image/png'}));
const paste = new ClipboardEvent('paste', {clipboardData: clipboard, bubbles: true});
document.getElementById(pageIds.INPUT).dispatchEvent(paste);
"""


def test_a_pasted_image_is_attached(dash_duo, upstream, tmp_path):
    image, _text = make_files(tmp_path)
    start(dash_duo, upstream)
    dash_duo.driver.execute_script(PASTE, base64.b64encode(image.read_bytes()).decode(), "image.png")
    wait_until(dash_duo, lambda d: [c.text for c in d.find_elements(By.CSS_SELECTOR, ".chat-attach-chip")]
               == ["image.png"], message="the pasted image never showed as a chip")
    click(dash_duo, f"#{ids.SEND}")  # an image alone is a question
    wait_for_answer(dash_duo, 0)
    parts = upstream.requests[-1]["body"]["messages"][-1]["content"]
    assert [part["type"] for part in parts] == ["image_url"]
