"""Images and files in the question: checked by content with real Pillow images and real PDFs made here, every
bad-file case refused with nothing stored, and what reaches the scripted upstream (SQLite and Postgres)."""

import base64
import io
import json
import struct
import time
import zlib

import pytest
from PIL import Image

from chatcore import attachments
from chatcore.attachments import Limits, clean_name, decode_data, prepare
from chatcore.errors import ChatError
from chatcore.providers import EmbeddedProvider, ProviderEntry
from chatcore.transfer import TransferError, export_document, parse_export
from config import ConfigError, load_settings
from testkit.accounts import accounts, signed_in
from testkit.app import upstream_env
from testkit.providers import providers_file
from testkit.upstream import Script
from testkit.waiting import wait_until

LIMITS = Limits(file_bytes=2 * 1024 * 1024, files=3, total_bytes=3 * 1024 * 1024, chars=5000,
                image_pixels=40_000_000, pdf_pages=3)


def image_bytes(size=(64, 48), mode="RGB", fmt="PNG", exif=None, color=(200, 30, 30)):
    """An image made here, encoded in `fmt` (with EXIF when given)."""
    out = io.BytesIO()
    image = Image.new(mode, size, color if mode == "RGB" else (*color, 128))
    options = {"exif": exif} if exif is not None else {}
    image.save(out, fmt, **options)
    return out.getvalue()


def exif_with_camera(orientation=None):
    """EXIF naming a camera (and GPS-like data), as a phone photo carries it."""
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"   # Make
    exif[0x0110] = "Phone 12"     # Model
    if orientation:
        exif[0x0112] = orientation
    return exif.tobytes()


def pdf_bytes(pages, compress_page=None):
    """A real PDF written by hand: one Helvetica text line per page (`compress_page`: raw bytes for a page's
    content stream, FlateDecode-compressed, e.g. a bomb)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", None, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for number, text in enumerate(pages):
        page_id, content_id = len(objects) + 1, len(objects) + 2
        kids.append(f"{page_id} 0 R")
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >>"
                       f" /Contents {content_id} 0 R >>")
        if compress_page is not None and number == 0:
            data = zlib.compress(compress_page, 9)
            objects.append((f"<< /Length {len(data)} /Filter /FlateDecode >>\nstream\n".encode() + data
                            + b"\nendstream"))
        else:
            stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
            objects.append(f"<< /Length {len(stream)} >>\nstream\n".encode() + stream + b"\nendstream")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + (body if isinstance(body, bytes) else body.encode()) + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def png_header_only(width, height):
    """A PNG whose header claims width×height pixels, with a tiny (empty) image: an image bomb's shape."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def refused(files, limits=LIMITS):
    """The ChatError code prepare() raises for these files."""
    with pytest.raises(ChatError) as caught:
        prepare(files, limits)
    assert caught.value.status == 400
    return caught.value.code


def decoded_image(item):
    """The Pillow image inside a prepared image's data URL."""
    return Image.open(io.BytesIO(base64.b64decode(item["data_url"].split(",", 1)[1])))


# --- checking and converting files ----------------------------------------------------------------------------


def test_a_big_photo_is_resized_and_loses_its_exif():
    photo = image_bytes((3000, 1500), fmt="JPEG", exif=exif_with_camera())
    assert b"PhoneMaker" in photo
    [item] = prepare([{"name": "holiday.jpg", "data": photo}], LIMITS)
    assert (item["kind"], item["mime"], item["size"]) == ("image", "image/jpeg", len(photo))
    assert item["data_url"].startswith("data:image/jpeg;base64,")
    image = decoded_image(item)
    assert image.format == "JPEG" and image.size == (2048, 1024) == (item["width"], item["height"])
    assert not image.getexif() and "exif" not in image.info and "icc_profile" not in image.info
    assert b"PhoneMaker" not in base64.b64decode(item["data_url"].split(",", 1)[1])
    thumb = Image.open(io.BytesIO(base64.b64decode(item["thumb_url"].split(",", 1)[1])))
    assert thumb.format == "JPEG" and thumb.size == (256, 128)


def test_the_exif_orientation_is_applied_before_exif_is_dropped():
    photo = image_bytes((40, 20), fmt="JPEG", exif=exif_with_camera(orientation=6))  # "rotate 90° to view"
    [item] = prepare([{"name": "upright.jpg", "data": photo}], LIMITS)
    assert decoded_image(item).size == (20, 40)


def test_transparency_stays_png_and_a_small_image_keeps_its_size():
    [item] = prepare([{"name": "logo.png", "data": image_bytes((300, 200), mode="RGBA")}], LIMITS)
    image = decoded_image(item)
    assert (item["mime"], image.format, image.mode, image.size) == ("image/png", "PNG", "RGBA", (300, 200))


def test_the_type_comes_from_the_content_and_a_name_saying_otherwise_is_refused():
    png = image_bytes()
    assert refused([{"name": "report.pdf", "data": png}]) == "attachment_type_mismatch"
    assert refused([{"name": "notes.txt", "data": png}]) == "attachment_type_mismatch"
    assert refused([{"name": "photo.png", "data": b"just some text"}]) == "attachment_type_mismatch"
    assert refused([{"name": "scan.jpg", "data": pdf_bytes(["Hello"])}]) == "attachment_type_mismatch"
    # A name that claims nothing known: the content decides.
    [item] = prepare([{"name": "download", "data": png}], LIMITS)
    assert item["kind"] == "image"


def test_an_image_bomb_is_refused_from_its_header():
    started = time.monotonic()
    assert refused([{"name": "bomb.png", "data": png_header_only(100_000, 100_000)}]) == "image_too_large"
    small_limit = Limits(**{**LIMITS.__dict__, "image_pixels": 10_000})
    assert refused([{"name": "wide.png", "data": png_header_only(200, 100)}], small_limit) == "image_too_large"
    assert time.monotonic() - started < 2


def test_a_real_pdf_gives_its_text_and_the_page_cap_is_said():
    pdf = pdf_bytes(["First page text", "Second page", "Third", "Fourth is never read"])
    [item] = prepare([{"name": "paper.pdf", "data": pdf}], LIMITS)
    assert (item["kind"], item["mime"], item["pages"], item["pages_read"]) == ("text", "application/pdf", 4, 3)
    assert "First page text" in item["text"] and "Third" in item["text"] and "Fourth" not in item["text"]
    content = attachments.model_content("Summarize", [item])
    assert content.startswith("Summarize\n\n[File: paper.pdf]\nFirst page text")
    assert "[paper.pdf: only pages 1-3 of 4 were read]" in content


def test_a_pdf_bomb_is_refused_quickly():
    bomb = pdf_bytes(["x"], compress_page=b"BT /F1 12 Tf 72 720 Td (" + b" " * 40_000_000 + b") Tj ET")
    assert len(bomb) < 100_000
    started = time.monotonic()
    assert refused([{"name": "bomb.pdf", "data": bomb}]) == "pdf_too_large"
    assert time.monotonic() - started < 5


def test_broken_encrypted_and_textless_pdfs_are_refused():
    assert refused([{"name": "broken.pdf", "data": b"%PDF-1.4\nnot really"}]) == "invalid_pdf"
    assert refused([{"name": "blank.pdf", "data": pdf_bytes([""])}]) == "pdf_without_text"


def test_text_files_in_utf8_and_gb18030_and_the_character_cap():
    chinese = "姓名,城市\n张三,北京\n李四,上海\n"
    [utf8, gb] = prepare([{"name": "people.csv", "data": chinese.encode()},
                          {"name": "人员.csv", "data": chinese.encode("gb18030")}], LIMITS)
    assert utf8["text"] == gb["text"] == chinese and utf8["mime"] == "text/csv" and gb["name"] == "人员.csv"
    long_text = "word " * 2000
    [item] = prepare([{"name": "long.md", "data": long_text.encode()}], LIMITS)
    assert (len(item["text"]), item["chars"], item["mime"]) == (5000, 10000, "text/markdown")
    assert "[long.md: 5,000 of its 10,000 characters were cut]" in attachments.model_content("q", [item])


def test_bad_files_are_refused_with_a_clear_code():
    big = b"a" * (LIMITS.file_bytes + 1)
    assert refused([{"name": "big.txt", "data": big}]) == "attachment_too_large"
    # Refused from the base64 length, before decoding.
    assert refused([{"name": "big.txt", "data": base64.b64encode(big).decode()}]) == "attachment_too_large"
    assert refused([{"name": f"{i}.txt", "data": b"x"} for i in range(4)]) == "too_many_attachments"
    third = b"a" * (LIMITS.total_bytes // 3 + 1)
    assert refused([{"name": f"{i}.txt", "data": third} for i in range(3)]) == "attachments_too_large"
    assert refused([{"name": "tool.exe", "data": b"MZ\x90\x00\x03\x00\x00\x00" * 100}]) == "unsupported_attachment"
    assert refused([{"name": "random.bin", "data": bytes(range(256)) * 20}]) == "unsupported_attachment"
    assert refused([{"name": "a.zip", "data": b"PK\x03\x04\x14\x00\x00\x00\x08\x00" * 50}]) == "unsupported_attachment"
    assert refused([{"name": "empty.txt", "data": b""}]) == "empty_attachment"
    assert refused([{"name": "x.txt", "data": "not base64!"}]) == "invalid_attachment"
    assert refused([{"name": "x.txt"}]) == "invalid_attachment"
    assert refused([{"name": "x.txt", "data": "eA==", "path": "/etc"}]) == "invalid_attachment"
    assert refused({"name": "x"}) == "invalid_attachments"
    assert refused([{"name": "x.tiff", "data": image_bytes(fmt="TIFF")}]) == "unsupported_attachment"


def test_file_names_lose_paths_and_control_characters_and_are_capped():
    assert clean_name("../../etc/passwd") == "passwd"
    assert clean_name("C:\\Users\\me\\report.txt") == "report.txt"
    assert clean_name("evil\u202egpj.exe") == "evilgpj.exe"
    assert clean_name("a\x00b\nc\td.txt") == "abcd.txt"
    assert clean_name("..") == clean_name("") == clean_name(None) == "file"
    long_name = clean_name("x" * 500 + ".md")
    assert len(long_name) == attachments.MAX_NAME_CHARS and long_name.endswith(".md")
    [item] = prepare([{"name": "/tmp/../secret\x07notes.txt", "data": b"hello"}], LIMITS)
    assert item["name"] == "secretnotes.txt"


def test_uploads_from_the_page_and_the_summary_it_shows():
    url = "data:text/plain;base64,aGVsbG8="
    assert attachments.from_upload(url, "a.txt") == [{"name": "a.txt", "data": url}]
    assert attachments.from_upload([url, url], ["a.txt"]) == [{"name": "a.txt", "data": url}, {"name": "", "data": url}]
    assert attachments.from_upload(None, None) == []
    image, text = prepare([{"name": "a.png", "data": image_bytes()}, *attachments.from_upload(url, "a.txt")], LIMITS)
    assert attachments.summary([image, text]) == [
        {key: image[key] for key in ("name", "kind", "mime", "size", "width", "height", "thumb_url")},
        {"name": "a.txt", "kind": "text", "mime": "text/plain", "size": 5, "chars": 5}]


@pytest.mark.parametrize("code", ["model_without_vision", "too_many_attachments", "attachment_too_large",
                                  "attachments_too_large", "body_too_large", "attachment_type_mismatch",
                                  "unsupported_attachment", "empty_attachment", "invalid_attachment",
                                  "invalid_attachments", "image_too_large", "invalid_image", "invalid_pdf",
                                  "pdf_too_large", "pdf_encrypted", "pdf_without_text"])
def test_every_refusal_has_a_message_in_both_languages(code):
    from chatcore.strings import ERRORS

    assert ERRORS["zh-CN"][code] and ERRORS["en-US"][code]


def test_data_urls_and_bare_base64_decode_alike():
    assert decode_data("data:text/plain;base64,aGVsbG8=", 100) == decode_data("aGVs\nbG8=", 100) == b"hello"
    assert decode_data("data:application/octet-stream;name=x.txt;base64,aGVsbG8=", 100) == b"hello"


def test_the_text_is_cut_to_the_budget_and_says_how_much():
    item = {"name": "big.txt", "kind": "text", "mime": "text/plain", "size": 4000, "text": "abcd" * 1000,
            "chars": 4000}
    content = attachments.model_content("Q", [item], text_tokens=200)
    kept = content.split("[File: big.txt]\n", 1)[1].split("\n[big.txt:", 1)[0]
    assert 400 < len(kept) < 800
    assert f"[big.txt: {4000 - len(kept):,} of its 4,000 characters were cut]" in content


def test_the_embedded_model_and_a_providers_file_say_which_models_take_images(tmp_path):
    embedded = EmbeddedProvider(lambda: None, 4096, 512, {})
    assert ProviderEntry("embedded", embedded, ["local"]).takes_images("local") is False
    env = providers_file(tmp_path, """
[[providers]]
name = "alpha"
base_url = "http://127.0.0.1:9/v1"
api_key_env = "ALPHA_KEY"
models = ["vl", "text"]
vision = ["vl"]
""")
    [alpha] = load_settings(env, dotenv_path=None).providers
    entry = ProviderEntry("alpha", object(), alpha.models, alpha.vision)
    assert entry.takes_images("vl") and not entry.takes_images("text")
    (tmp_path / "providers.toml").write_text((tmp_path / "providers.toml").read_text().replace('["vl"]', '"yes"'))
    with pytest.raises(ConfigError, match="vision"):
        load_settings(env, dotenv_path=None)
    with pytest.raises(ConfigError, match="VISION_MODELS"):
        load_settings({"OPENAI_API_KEY": "k", "MODELS": "a,b", "VISION_MODELS": "c"}, dotenv_path=None)


# --- export and import ----------------------------------------------------------------------------------------


def exported(attachment_list):
    """An export document with one question carrying these attachments."""
    return export_document([{"id": "c1", "title": "t", "created_at": 1, "updated_at": 2, "messages": [
        {"role": "user", "content": "look", "status": "done", "attachments": attachment_list},
        {"role": "assistant", "content": "seen", "status": "done"}]}])


def test_export_carries_attachments_and_import_checks_them():
    files = prepare([{"name": "a.png", "data": image_bytes()}, {"name": "n.txt", "data": b"notes"}], LIMITS)
    document = exported(files)
    assert document["conversations"][0]["messages"][0]["attachments"] == files
    [conversation] = parse_export(json.dumps(document))
    back = conversation["messages"][0]["attachments"]
    assert [(a["name"], a["kind"], a["mime"]) for a in back] == [("a.png", "image", "image/jpeg"),
                                                                 ("n.txt", "text", "text/plain")]
    assert back[1]["text"] == "notes" and conversation["messages"][1]["attachments"] is None
    bad_cases = [
        [{**files[0], "data_url": "data:image/svg+xml;base64,PHN2Zy8+"}],
        [{**files[0], "data_url": "data:image/png;base64," + base64.b64encode(b"not an image").decode()}],
        [{**files[1], "kind": "video"}],
        [{**files[1], "text": 5}],
        "not a list",
    ]
    for bad in bad_cases:
        with pytest.raises(TransferError) as caught:
            parse_export(json.dumps(exported(bad)))
        assert "attachments" in caught.value.detail


# --- over HTTP, against the scripted upstream, on SQLite and Postgres -----------------------------------------


@pytest.fixture
def app_on(upstream, serve, tmp_path, database_url):
    """(server, alice's session, a conversation id) with VISION_MODELS=scripted: 'other' takes no images."""
    server = serve(upstream_env(upstream, VISION_MODELS="scripted", **accounts(tmp_path, database_url)))
    alice = signed_in(server, "alice")
    return server, alice, alice.post(f"{server.url}/api/conversations", json={}).json()["id"]


def data_url(data, mime):
    """A data: URL, as dcc.Upload gives the page."""
    return f"data:{mime};base64,{base64.b64encode(data).decode()}"


def conversation(session, server, cid):
    """The stored conversation."""
    return session.get(f"{server.url}/api/conversations/{cid}").json()


def finished(session, server, cid):
    """The conversation once its last answer is no longer streaming."""
    return wait_until(lambda: (c := conversation(session, server, cid))["messages"][-1]["status"] != "streaming"
                      and c, 10, "the answer")


def test_images_and_files_reach_the_upstream_as_content_parts_and_are_stored(upstream, app_on):
    server, alice, cid = app_on
    upstream.script = Script(reply="A red square and your notes.")
    photo = image_bytes((3000, 2000), fmt="JPEG", exif=exif_with_camera())
    response = alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "What is this?", "model": "scripted", "multi_turn": True,
        "attachments": [{"name": "../photo.jpg", "data": data_url(photo, "image/jpeg")},
                        {"name": "notes.md", "data": base64.b64encode("# 笔记\nhello".encode()).decode()}]})
    assert response.status_code == 202, response.text
    stored = finished(alice, server, cid)
    question = stored["messages"][0]
    assert stored["title"] == "What is this?" and question["content"] == "What is this?"
    image, notes = question["attachments"]
    assert (image["name"], image["kind"], image["width"], image["height"]) == ("photo.jpg", "image", 2048, 1365)
    assert (notes["name"], notes["kind"], notes["text"]) == ("notes.md", "text", "# 笔记\nhello")
    sent = upstream.requests[-1]["body"]["messages"][-1]
    assert sent == {"role": "user", "content": [
        {"type": "text", "text": "What is this?"},
        {"type": "text", "text": "[File: notes.md]\n# 笔记\nhello\n[End of notes.md]"},
        {"type": "image_url", "image_url": {"url": image["data_url"]}}]}
    # The next turn sends the earlier image again, as the model saw it.
    assert alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "And now?", "model": "scripted", "multi_turn": True}).status_code == 202
    finished(alice, server, cid)
    history = upstream.requests[-1]["body"]["messages"]
    assert history[0] == sent and history[1]["content"] == "A red square and your notes."
    assert history[2] == {"role": "user", "content": "And now?"}
    # The files themselves, for the user only.
    base = f"{server.url}/api/messages/{question['id']}/attachments"
    served = alice.get(f"{base}/0")
    assert served.status_code == 200 and served.headers["Content-Type"] == "image/jpeg"
    assert served.content == base64.b64decode(image["data_url"].split(",", 1)[1])
    assert served.headers["X-Content-Type-Options"] == "nosniff" and "sandbox" in served.headers[
        "Content-Security-Policy"]
    assert alice.get(f"{base}/1").text == "# 笔记\nhello"
    assert alice.get(f"{base}/2").status_code == 404
    assert signed_in(server, "bob").get(f"{base}/0").status_code == 404


def test_text_files_alone_are_a_string_and_title_the_conversation(upstream, app_on):
    server, alice, cid = app_on
    csv = "a,b\n1,2\n".encode("gb18030")
    assert alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "model": "other", "attachments": [{"name": "data.csv", "data": base64.b64encode(csv).decode()}]}
    ).status_code == 202
    stored = finished(alice, server, cid)
    assert stored["title"] == "data.csv" and stored["messages"][0]["content"] == ""
    assert upstream.requests[-1]["body"]["messages"][-1] == {
        "role": "user", "content": "[File: data.csv]\na,b\n1,2\n\n[End of data.csv]"}


def test_a_model_without_vision_is_refused_and_nothing_is_stored(upstream, app_on):
    server, alice, cid = app_on
    response = alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "see", "model": "other", "attachments": [{"name": "a.png", "data": data_url(image_bytes(),
                                                                                                 "image/png")}]})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "model_without_vision"
    assert "other" in response.json()["error"]["message"]
    assert conversation(alice, server, cid)["messages"] == [] and upstream.requests == []


def test_earlier_images_become_a_note_for_a_model_without_vision(upstream, app_on):
    server, alice, cid = app_on
    assert alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "see", "model": "scripted", "multi_turn": True,
        "attachments": [{"name": "a.png", "data": data_url(image_bytes(), "image/png")}]}).status_code == 202
    finished(alice, server, cid)
    assert alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "and in words?", "model": "other", "multi_turn": True}).status_code == 202
    finished(alice, server, cid)
    history = upstream.requests[-1]["body"]["messages"]
    assert history[0] == {"role": "user",
                          "content": "see\n[An image was attached here; this model does not take images.]"}


@pytest.mark.parametrize("files,code", [
    ([{"name": "x.pdf", "data": base64.b64encode(image_bytes()).decode()}], "attachment_type_mismatch"),
    ([{"name": "bomb.png", "data": base64.b64encode(png_header_only(60_000, 60_000)).decode()}], "image_too_large"),
    ([{"name": f"{i}.txt", "data": "eA=="} for i in range(9)], "too_many_attachments"),
    ([{"name": "x.bin", "data": base64.b64encode(bytes(range(256)) * 8).decode()}], "unsupported_attachment"),
])
def test_bad_files_over_http_store_nothing(upstream, app_on, files, code):
    server, alice, cid = app_on
    response = alice.post(f"{server.url}/api/conversations/{cid}/messages",
                          json={"content": "q", "model": "scripted", "attachments": files})
    assert (response.status_code, response.json()["error"]["code"]) == (400, code)
    assert conversation(alice, server, cid)["messages"] == [] and upstream.requests == []


def test_a_body_over_the_attachment_limits_is_refused_unread(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, MAX_ATTACHMENTS_TOTAL_BYTES="1000", MAX_ATTACHMENTS="1",
                                **accounts(tmp_path)))
    alice = signed_in(server, "alice")
    cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    body = json.dumps({"content": "q", "attachments": [{"name": "a.txt", "data": "eA==" * 400_000}]})
    response = alice.post(f"{server.url}/api/conversations/{cid}/messages", data=body,
                          headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["error"]["code"]) == (413, "body_too_large")
    assert conversation(alice, server, cid)["messages"] == []


def test_a_long_file_is_cut_to_the_context_and_the_model_is_told(upstream, serve, tmp_path):
    server = serve(upstream_env(upstream, CONTEXT_TOKENS="1000", MAX_ANSWER_TOKENS="200", **accounts(tmp_path)))
    alice = signed_in(server, "alice")
    cid = alice.post(f"{server.url}/api/conversations", json={}).json()["id"]
    text = "lorem ipsum " * 2000
    assert alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "Summarize", "model": "scripted",
        "attachments": [{"name": "long.txt", "data": base64.b64encode(text.encode()).decode()}]}).status_code == 202
    stored = finished(alice, server, cid)
    assert stored["messages"][0]["attachments"][0]["text"] == text  # the store keeps the whole file
    sent = upstream.requests[-1]["body"]["messages"][-1]["content"]
    assert sent.startswith("Summarize\n\n[File: long.txt]\nlorem ipsum") and len(sent) < 4000
    assert "characters were cut]" in sent and sent.endswith("[End of long.txt]")


def test_v1_takes_image_parts_and_refuses_them_for_a_model_without_vision(upstream, serve):
    server = serve(upstream_env(upstream, VISION_MODELS="scripted"))
    url = data_url(image_bytes(), "image/png")
    parts = [{"type": "text", "text": "what?"}, {"type": "image_url", "image_url": {"url": url, "detail": "low"}}]
    import requests

    answer = requests.post(f"{server.url}/v1/chat/completions", json={
        "model": "scripted", "messages": [{"role": "user", "content": parts}]})
    assert answer.status_code == 200, answer.text
    assert upstream.requests[-1]["body"]["messages"][-1]["content"] == parts
    refused_answer = requests.post(f"{server.url}/v1/chat/completions", json={
        "model": "other", "messages": [{"role": "user", "content": parts}]})
    assert refused_answer.status_code == 400 and refused_answer.json()["error"]["code"] == "model_without_vision"
    bad = requests.post(f"{server.url}/v1/chat/completions", json={"model": "scripted", "messages": [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "file:///etc/passwd"}}]}]})
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_messages"
    assert len(upstream.requests) == 1


def test_export_and_import_over_http_keep_attachments(upstream, app_on):
    server, alice, cid = app_on
    assert alice.post(f"{server.url}/api/conversations/{cid}/messages", json={
        "content": "look", "model": "scripted",
        "attachments": [{"name": "a.png", "data": data_url(image_bytes(), "image/png")}]}).status_code == 202
    finished(alice, server, cid)
    backup = alice.get(f"{server.url}/api/export").json()
    [question] = [m for m in backup["conversations"][0]["messages"] if m["role"] == "user"]
    assert question["attachments"][0]["name"] == "a.png"
    backup["conversations"][0]["id"] = "copy"
    assert alice.post(f"{server.url}/api/import", data=json.dumps(backup)).json() == {"imported": 1, "skipped": 0}
    copies = [c for c in alice.get(f"{server.url}/api/conversations").json()["data"] if c["id"] != cid]
    copy = conversation(alice, server, copies[0]["id"])
    assert copy["messages"][0]["attachments"][0]["kind"] == "image"


def test_under_gevent_a_big_image_is_converted_off_the_event_loop():
    import subprocess
    import sys

    script = """
from gevent import monkey; monkey.patch_all()
import io, time, gevent
from PIL import Image
from chatcore.attachments import Limits, prepare
from chatcore.os_thread import run_off_loop
out = io.BytesIO(); Image.effect_noise((6000, 4000), 60).convert("RGB").save(out, "JPEG")
limits = Limits(50_000_000, 1, 50_000_000, 1000, 40_000_000, 1)
ticks = []
def tick():
    while True:
        ticks.append(time.monotonic()); gevent.sleep(0.005)
ticker = gevent.spawn(tick); gevent.sleep(0.02)
started = time.monotonic()
[item] = run_off_loop(prepare, [{"name": "big.jpg", "data": out.getvalue()}], limits)
took = time.monotonic() - started
during = [t for t in ticks if t >= started]
gaps = [b - a for a, b in zip(during, during[1:])]
# Called on the loop, no tick runs until it is done; off the loop they go on (GIL switches every 5 ms).
assert item["width"] == 2048 and len(during) > 5 and max(gaps, default=took) < 0.3, (took, len(during), gaps)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
