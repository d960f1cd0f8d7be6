"""The embedded model's GGUF file: joined once from the byte slices in its wheels, checked before every load."""

import hashlib
import importlib.util
import os
from pathlib import Path

CHUNK = 8 << 20


class ModelFileError(Exception):
    """The model file is missing or is not the file it should be; the message says what to do."""


def part_paths(model):
    """The installed slices of `model` in order, found without importing their packages; None if one is missing."""
    paths = []
    for number in range(1, model.parts + 1):
        spec = importlib.util.find_spec(f"{model.package_prefix}{number}")  # locates, never runs, the package
        if spec is None or not spec.submodule_search_locations:
            return None
        slices = sorted((Path(list(spec.submodule_search_locations)[0]) / "data").glob("part*.bin"))
        if len(slices) != 1:
            return None
        paths.append(slices[0])
    return paths


def sha256_of(path):
    """The file's sha256 as hex, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path, size, sha256):
    """Raise ModelFileError unless the file at `path` has exactly this size and sha256."""
    actual_size = os.path.getsize(path)
    if actual_size != size:
        raise ModelFileError(f"{path} is {actual_size:,} bytes, expected {size:,} (truncated or corrupted): "
                             f"delete it and restart to rebuild it")
    actual = sha256_of(path)
    if actual != sha256:
        raise ModelFileError(f"{path} has sha256 {actual}, expected {sha256} (corrupted): delete it and restart "
                             f"to rebuild it")


def assembled_path(model, data_dir):
    """Where the joined GGUF of `model` lives."""
    return Path(data_dir) / "models" / model.file_name


def prepare(model, data_dir):
    """Path of the checked GGUF of `model`, joining its installed slices first if needed."""
    path = assembled_path(model, data_dir)
    if not path.exists():
        parts = part_paths(model)
        if parts is None:
            raise ModelFileError(f"the model {model.id} is not installed: pip install -r {model.requirements} "
                                 f"(or set OPENAI_API_KEY, or EMBEDDED_MODEL_PATH to a GGUF file)")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # several workers may join at once
        with open(partial, "wb") as out:
            for part in parts:
                with open(part, "rb") as source:
                    for block in iter(lambda: source.read(CHUNK), b""):
                        out.write(block)
        try:
            verify(partial, model.size, model.sha256)
        except ModelFileError:
            partial.unlink()
            raise ModelFileError(f"the installed slices of {model.id} do not make the expected file: "
                                 f"pip install --force-reinstall -r {model.requirements}") from None
        os.replace(partial, path)
        return path
    verify(path, model.size, model.sha256)
    return path
