"""Files attached to a question: checked by their content (never their name alone), images re-encoded and
resized with Pillow, text read from text files and PDFs (pypdf), every limit a clear 400. No Flask here.

A prepared attachment is what the store keeps and the page shows:
`{"name", "kind": "image"|"text", "mime", "size"}` (`size`: the bytes uploaded) plus, for an image, `width`,
`height`, `data_url` (`data:image/jpeg|png;base64,…`, what the model gets) and `thumb_url` (the same, at most
THUMB_MAX_SIDE px), and for a text file `text` and `chars` (how many characters the file had;
more than len(text) when it was cut), and for a PDF `pages` and `pages_read`.
"""

import base64
import binascii
import io
import re
import time
import unicodedata
from dataclasses import dataclass

from .errors import ChatError, bad_request
from .messages import IMAGE_TOKENS, clean_text, estimate_tokens

IMAGE_MAX_SIDE = 2048     # longest side sent to a model (OpenAI's own high-detail limit)
THUMB_MAX_SIDE = 256      # the page shows this small copy in a message; the full image is fetched on demand
JPEG_QUALITY = 85
# The formats Pillow may open: the common photo and screenshot ones. TIFF, PSD, EPS and the like are refused
# (large parsers, rarely sent to a chat, and EPS would run Ghostscript).
IMAGE_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "BMP")
PDF_STREAM_BYTES = 16 * 1024 * 1024  # one PDF stream decompresses to at most this (a "PDF bomb" stops here)
PDF_SECONDS = 10.0        # reading one PDF stops after the page that passes this
MAX_NAME_CHARS = 120
IMAGE_EXTENSIONS = {"png", "jpg", "jpeg", "jfif", "gif", "webp", "bmp"}
TEXT_EXTENSIONS = {
    "txt", "text", "md", "markdown", "rst", "csv", "tsv", "json", "jsonl", "yaml", "yml", "toml", "ini", "cfg",
    "conf", "log", "xml", "html", "htm", "css", "scss", "js", "mjs", "cjs", "ts", "tsx", "jsx", "py", "pyi", "ipynb",
    "c", "h", "cc", "cpp", "hpp", "cs", "java", "kt", "kts", "go", "rs", "rb", "php", "swift", "m", "r", "jl",
    "lua", "pl", "sh", "bash", "zsh", "ps1", "bat", "sql", "tex", "bib", "vue", "svelte", "dart", "scala", "hs",
    "ex", "exs", "erl", "clj", "el", "vim", "gradle", "properties", "env", "dockerfile", "makefile", "srt", "vtt",
}
TEXT_MIMES = {"md": "text/markdown", "markdown": "text/markdown", "csv": "text/csv",
              "tsv": "text/tab-separated-values", "json": "application/json", "html": "text/html", "htm": "text/html"}
# Control characters that never appear in text files (tab, newlines and form feed do): more than a few of them
# means the bytes are binary, whatever an 8-bit decoding made of them.
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0e-\x1a\x1c-\x1f\x7f]")
_DATA_URL = re.compile(r"^data:([\w.+-]+/[\w.+-]+)?(;[\w=.+-]+)*;base64,", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Limits:
    """The attachment limits (config.py's settings are their one home)."""

    file_bytes: int
    files: int
    total_bytes: int
    chars: int
    image_pixels: int
    pdf_pages: int

    @classmethod
    def from_settings(cls, settings) -> "Limits":
        """The limits the settings give."""
        return cls(settings.max_attachment_bytes, settings.max_attachments, settings.max_attachments_total_bytes,
                   settings.max_attachment_chars, settings.max_image_pixels, settings.max_pdf_pages)

    def request_bytes(self, other_bytes) -> int:
        """The largest JSON body a question with attachments needs: every file as base64, plus `other_bytes`."""
        return self.total_bytes * 4 // 3 + 1024 * self.files + other_bytes


def clean_name(name) -> str:
    """A file name safe to store and show: no folders, no control or direction-changing characters, at most
    MAX_NAME_CHARS characters (its extension kept)."""
    name = name if isinstance(name, str) else ""
    name = unicodedata.normalize("NFC", name.replace("\\", "/").rsplit("/", 1)[-1])
    # Cc: control characters; Cf: invisible format ones, such as U+202E, which shows "gpj.exe" as "exe.jpg".
    name = "".join(ch for ch in name if unicodedata.category(ch) not in ("Cc", "Cf", "Cs", "Co"))
    name = " ".join(name.split()).strip()
    if name.strip(".") == "":
        name = "file"
    if len(name) > MAX_NAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and stem and len(extension) <= 10:
            name = f"{stem[:MAX_NAME_CHARS - len(extension) - 1]}.{extension}"
        else:
            name = name[:MAX_NAME_CHARS]
    return name


def _extension(name) -> str:
    """The lower-case extension of a name ('' when none)."""
    stem, dot, extension = name.rpartition(".")
    return extension.lower() if dot and stem else ""


def decode_data(value, max_bytes) -> bytes:
    """The bytes of an upload given as base64 or a `data:…;base64,` URL (what dcc.Upload hands the page);
    one too large is refused before it is decoded."""
    if isinstance(value, (bytes, bytearray)):
        return bytes(value)
    if not isinstance(value, str):
        raise bad_request("invalid_attachment", "Each attachment needs 'data': base64 or a data: URL.")
    match = _DATA_URL.match(value)
    encoded = value[match.end():] if match else value
    if len(encoded) > max_bytes * 4 // 3 + 8 and len(_WHITESPACE.sub("", encoded)) > max_bytes * 4 // 3 + 8:
        raise bad_request("attachment_too_large", f"A file is over the limit of {readable_size(max_bytes)}.")
    try:
        return base64.b64decode(_WHITESPACE.sub("", encoded), validate=True)
    except (binascii.Error, ValueError):
        raise bad_request("invalid_attachment", "An attachment's data is not valid base64.") from None


def readable_size(count) -> str:
    """A byte count for people: 10 MB, 512 KB, 300 bytes."""
    if count >= 1024 * 1024:
        return f"{round(count / (1024 * 1024), 1):g} MB"
    if count >= 1024:
        return f"{round(count / 1024, 1):g} KB"
    return f"{count} bytes"


def prepare(files, limits) -> list[dict]:
    """Check and convert the files of one question (`[{"name", "data"}]`, data as bytes, base64 or a data URL);
    every count and size is checked before any file is opened. Raises a 400 ChatError naming the file."""
    if files is None:
        return []
    if not isinstance(files, list):
        raise bad_request("invalid_attachments", "'attachments' must be a list of {name, data} objects.")
    if len(files) > limits.files:
        raise bad_request("too_many_attachments", f"{len(files)} files attached; the limit is {limits.files} per message.")
    decoded, total = [], 0
    for i, item in enumerate(files):
        if not isinstance(item, dict) or set(item) - {"name", "data"} or "data" not in item:
            raise bad_request("invalid_attachment", f"attachments[{i}] must be an object with 'name' and 'data'.")
        name = clean_name(item.get("name"))
        data = decode_data(item["data"], limits.file_bytes)
        if len(data) > limits.file_bytes:
            raise bad_request("attachment_too_large", f"{name} is {readable_size(len(data))}; the limit is "
                                                 f"{readable_size(limits.file_bytes)} per file.")
        if not data:
            raise bad_request("empty_attachment", f"{name} is empty.")
        total += len(data)
        if total > limits.total_bytes:
            raise bad_request("attachments_too_large", f"The files are over {readable_size(limits.total_bytes)} together.")
        decoded.append((name, data))
    return [_prepare_one(name, data, limits) for name, data in decoded]


def _prepare_one(name, data, limits) -> dict:
    """One checked file: what its content is (a PDF, an image, text), which must agree with its name."""
    extension = _extension(name)
    claimed = "image" if extension in IMAGE_EXTENSIONS else "pdf" if extension == "pdf" else \
        "text" if extension in TEXT_EXTENSIONS else None
    if data.startswith(b"%PDF-"):
        found, prepared = "pdf", None
    else:
        prepared = _image(name, data, limits)
        found = "image" if prepared else "text"
    if claimed and claimed != found:
        what = {"pdf": "a PDF", "image": "an image", "text": "text (or an unknown binary format)"}[found]
        raise bad_request("attachment_type_mismatch", f"{name} is {what}, not what its name says.")
    if found == "pdf":
        return _pdf(name, data, limits)
    if found == "image":
        return prepared
    return _text(name, data, limits, TEXT_MIMES.get(extension, "text/plain"))


def _image(name, data, limits) -> dict | None:
    """The image re-encoded (EXIF orientation applied, then every metadata dropped) with its longest side at
    most IMAGE_MAX_SIDE: PNG when it has transparency, JPEG otherwise; None when the bytes are no image."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        # open() reads only the header: the size is known before any pixel is decoded.
        image = Image.open(io.BytesIO(data), formats=IMAGE_FORMATS)
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError:
        raise bad_request("image_too_large", f"{name} has too many pixels (over {limits.image_pixels:,}).") from None
    except (OSError, SyntaxError, ValueError):
        raise bad_request("invalid_image", f"{name} is a damaged image.") from None
    width, height = image.size
    if width * height > limits.image_pixels:
        raise bad_request("image_too_large", f"{name} is {width}×{height} pixels; the limit is "
                                        f"{limits.image_pixels:,} pixels.")
    try:
        image.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))  # JPEG: decode at a reduced scale when it can
        image = ImageOps.exif_transpose(image)  # photos keep their orientation once EXIF is gone
        alpha = image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info)
        image = image.convert("RGBA" if alpha else "RGB")
        image.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
        image.info = {}  # PNG writes an ICC profile kept in info; nothing of the original goes out
        thumb = image.copy()
        thumb.thumbnail((THUMB_MAX_SIDE, THUMB_MAX_SIDE), Image.Resampling.LANCZOS)
        mime = "image/png" if alpha else "image/jpeg"
        full_url, thumb_url = _data_url(image, mime), _data_url(thumb, mime)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise bad_request("invalid_image", f"{name} is a damaged image.") from None
    return {"name": name, "kind": "image", "mime": mime, "size": len(data), "width": image.width,
            "height": image.height, "data_url": full_url, "thumb_url": thumb_url}


def _data_url(image, mime) -> str:
    """A Pillow image encoded as PNG or JPEG in a data: URL."""
    out = io.BytesIO()
    if mime == "image/png":
        image.save(out, "PNG", optimize=True)
    else:
        image.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return f"data:{mime};base64,{base64.b64encode(out.getvalue()).decode()}"


def from_upload(contents, filenames) -> list[dict]:
    """dcc.Upload's `contents` and `filename` (one each, or lists of them) as the files prepare() takes."""
    if contents is None:
        return []
    if isinstance(contents, str):
        contents, filenames = [contents], [filenames]
    names = list(filenames or []) + [""] * (len(contents) - len(filenames or []))
    return [{"name": name or "", "data": data} for data, name in zip(contents, names)]


def summary(items) -> list[dict]:
    """Attachments as a message list shows them: without the full image or the file's text (they can be MBs;
    GET /api/messages/<id>/attachments/<n> serves them)."""
    return [{key: value for key, value in item.items() if key not in ("data_url", "text")} for item in items or ()]


def file_of(item) -> tuple[bytes, str]:
    """(bytes, content type) of a stored attachment: the re-encoded image, or the text read from the file."""
    if item["kind"] == "image":
        return base64.b64decode(item["data_url"].split(",", 1)[1]), item["mime"]
    return item["text"].encode(), "text/plain; charset=utf-8"


def _text(name, data, limits, mime) -> dict:
    """A text file decoded (UTF-8, else UTF-16 with its BOM, else GB18030) and cut at `limits.chars`."""
    for bom, encoding in ((b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if data.startswith(bom):
            candidates = (encoding,)
            break
    else:
        candidates = ("utf-8-sig", "gb18030")
    text = None
    for encoding in candidates:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None or len(_BINARY_CHARS.findall(text[:65536])) > max(2, len(text[:65536]) // 200):
        raise bad_request("unsupported_attachment", f"{name} is neither an image, a PDF nor a text file.")
    text = clean_text(text.replace("\r\n", "\n"))
    if not text.strip():
        raise bad_request("empty_attachment", f"{name} has no text.")
    return {"name": name, "kind": "text", "mime": mime, "size": len(data), "text": text[:limits.chars],
            "chars": len(text)}


def _pdf(name, data, limits) -> dict:
    """A PDF's text, page by page, until `limits.pdf_pages` pages, `limits.chars` characters or PDF_SECONDS;
    every stream's decompression is capped, so a "PDF bomb" is refused instead of filling the memory."""
    from pypdf import PdfReader
    from pypdf import apply_configuration
    from pypdf.errors import LimitReachedError

    caps = {key: PDF_STREAM_BYTES for key in (
        "maximum_declared_stream_length", "array_based_stream_maximum_output_length", "jbig2_maximum_output_length",
        "lzw_maximum_output_length", "run_length_maximum_output_length", "zlib_maximum_output_length",
        "brotli_maximum_output_length", "image_maximum_buffer_size")}
    deadline = time.monotonic() + PDF_SECONDS
    texts, chars, pages, read = [], 0, 0, 0
    try:
        with apply_configuration(jbig2dec_binary=None, **caps):  # no external decoder is ever run
            reader = PdfReader(io.BytesIO(data))
            if reader.is_encrypted and not reader.decrypt(""):
                raise bad_request("pdf_encrypted", f"{name} is protected by a password.")
            pages = len(reader.pages)
            for page in reader.pages:
                if read >= limits.pdf_pages or chars >= limits.chars or time.monotonic() > deadline:
                    break
                text = page.extract_text() or ""
                texts.append(text)
                chars += len(text)
                read += 1
    except ChatError:  # a refusal of ours from inside the block
        raise
    except LimitReachedError:
        raise bad_request("pdf_too_large", f"{name} expands beyond the limits (a compressed 'PDF bomb'?).") from None
    except RecursionError:
        raise bad_request("invalid_pdf", f"{name} is a damaged PDF.") from None
    except Exception:  # pypdf raises many types on hostile or broken files; all mean the same here
        raise bad_request("invalid_pdf", f"{name} is a damaged PDF.") from None
    text = clean_text("\n\n".join(t.strip() for t in texts if t.strip()))
    if not text.strip():
        raise bad_request("pdf_without_text", f"{name} has no text to read (a scan? send its pages as images).")
    return {"name": name, "kind": "text", "mime": "application/pdf", "size": len(data), "text": text[:limits.chars],
            "chars": len(text), "pages": pages, "pages_read": read}


def _cut_note(item, kept) -> str:
    """What of a file is missing from the model's copy ('' when nothing): cut pages and characters."""
    notes = []
    if item.get("pages_read", 0) < item.get("pages", 0):
        notes.append(f"only pages 1-{item['pages_read']} of {item['pages']} were read")
    total = max(item.get("chars", 0), len(item["text"]))
    if kept < total:
        notes.append(f"{total - kept:,} of its {total:,} characters were cut")
    return f"\n[{item['name']}: {'; '.join(notes)}]" if notes else ""


def _prefix_within(text, tokens) -> str:
    """The longest start of `text` whose token estimate is at most `tokens`."""
    low, high = 0, len(text)
    while low < high:
        middle = (low + high + 1) // 2
        if estimate_tokens(text[:middle]) <= tokens:
            low = middle
        else:
            high = middle - 1
    return text[:low]


def model_content(question, items, text_tokens=None):
    """The user message as the model gets it: the question, each text file as a block (cut to `text_tokens` in
    all when given, saying how much was cut), and each image as an OpenAI image_url part. A plain string when
    there are no images, as before (some backends take only strings)."""
    blocks, left = [], text_tokens
    for item in items:
        if item["kind"] != "text":
            continue
        header, text = f"[File: {item['name']}]\n", item["text"]
        if left is not None:
            room = max(0, left - estimate_tokens(header) - 24)  # 24: the cut note
            if estimate_tokens(text) > room:
                text = _prefix_within(text, room)
            left = max(0, left - estimate_tokens(header + text) - 24)
        blocks.append(f"{header}{text}{_cut_note(item, len(text))}\n[End of {item['name']}]")
    images = [item for item in items if item["kind"] == "image"]
    if not images:
        return "\n\n".join(part for part in (question, *blocks) if part)
    parts = [{"type": "text", "text": part} for part in (question, *blocks) if part]
    return parts + [{"type": "image_url", "image_url": {"url": item["data_url"]}} for item in images]


def fixed_tokens(question, items) -> int:
    """The tokens of a question's parts that are never cut: its text and its images."""
    return estimate_tokens(question) + IMAGE_TOKENS * sum(1 for item in items if item["kind"] == "image")


def check_stored(items, limits) -> list[dict]:
    """Attachments in their prepared form from an outside source (an imported backup), checked like an upload:
    images decoded and re-encoded (nothing but pixels is kept), text cut at the limit. Raises a 400 ChatError."""
    if not isinstance(items, list) or len(items) > limits.files:
        raise bad_request("invalid_attachments", f"attachments must be a list of at most {limits.files}.")
    checked = []
    for item in items:
        if not isinstance(item, dict) or item.get("kind") not in ("image", "text"):
            raise bad_request("invalid_attachment", "An attachment has no kind (image or text).")
        name = clean_name(item.get("name"))
        size = item.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise bad_request("invalid_attachment", f"{name}: size must be a number of bytes.")
        if item["kind"] == "image":
            url = item.get("data_url")
            if not isinstance(url, str) or not url.startswith(("data:image/png;base64,", "data:image/jpeg;base64,")):
                raise bad_request("invalid_attachment", f"{name}: data_url must be a PNG or JPEG data: URL.")
            image = _image(name, decode_data(url, limits.file_bytes), limits)
            if image is None:
                raise bad_request("invalid_attachment", f"{name}: data_url is not an image.")
            checked.append(image | {"size": size})
            continue
        text, chars, mime = item.get("text"), item.get("chars", 0), item.get("mime", "text/plain")
        if not isinstance(text, str) or isinstance(chars, bool) or not isinstance(chars, int) or \
                mime not in {"text/plain", "application/pdf", *TEXT_MIMES.values()}:
            raise bad_request("invalid_attachment", f"{name}: text, chars or mime is not valid.")
        text = clean_text(text)
        out = {"name": name, "kind": "text", "mime": mime, "size": size, "text": text[:limits.chars],
               "chars": max(chars, len(text))}
        pages, read = item.get("pages"), item.get("pages_read")
        if all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in (pages, read)):
            out.update(pages=pages, pages_read=read)
        checked.append(out)
    return checked
