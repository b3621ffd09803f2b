"""Artefacts: what one lesson builds and a later one reuses, kept safely in ``<data path>/artifacts/``.

Every artefact is two files: the data (``<name>.npz`` for interactions and splits,
``<name>.pt`` for models; see :mod:`coursekit.course.formats`, no pickle anywhere) and
``<name>.manifest.json``: its kind, the SHA-256 of the data file, the **settings** that built
it, what the file holds (array dtypes and shapes), and a SHA-256 of the manifest itself. :func:`load_or_build` is the one entry point lessons use:

* a missing artefact is built and saved;
* a damaged one (checksum, format or manifest wrong) is reported with its path and rebuilt;
* one built with other settings (a changed recipe) is rebuilt instead of silently reused;
* in a read-only data folder nothing is written: one printed line says so and the lesson goes on.

The course's own artefacts (the MovieLens interactions, the tutorial split, the lesson models) are
*registered* with their builder and settings (:func:`register`), so even :func:`load_artifact`
rebuilds them when damaged. ``make reset`` deletes the whole folder.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from coursekit._files import atomic_write, remove_stale_temporaries
from coursekit.course.formats import KINDS, ArtifactFormatError, kind_of

T = TypeVar("T")

ARTIFACTS_FOLDER = "artifacts"
MANIFEST_SUFFIX = ".manifest.json"
MANIFEST_FORMAT = 1
_MAX_MANIFEST_BYTES = 1 << 20  # a manifest is a few kB; refuse to parse a planted giant
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
_READ_ONLY = (errno.EROFS, errno.EACCES, errno.EPERM)


class ArtifactError(ValueError):
    """A saved artefact cannot be used: damaged, not an artefact, or built with other settings."""

    def __init__(self, name: str, path: Path, problem: str, stale: bool = False) -> None:
        self.name, self.path, self.problem, self.stale = name, path, problem, stale
        files = " and ".join(str(p) for p in _files_of(name) if p.exists()) or str(path)
        super().__init__(
            f"artefact {name!r} at {path}: {problem}. Delete {files} (or run `make reset`), "
            f"then rerun the lesson that saves {name!r}, or load it with coursekit.course.load_or_build"
        )


@dataclass(frozen=True)
class Registered:
    """How a course artefact is built, and the settings that describe it."""

    build: Callable[[], Any]
    settings: Mapping[str, Any]


_REGISTRY: dict[str, Registered] = {}


def register(name: str, build: Callable[[], Any], settings: Mapping[str, Any]) -> None:
    """Declare how the artefact ``name`` is built and from which settings (lessons' artefacts are registered)."""
    _check_name(name)
    if not callable(build):
        raise TypeError(f"build must be a function of no arguments, got {type(build).__name__}")
    _REGISTRY[name] = Registered(build, dict(settings))


def registered(name: str) -> Registered | None:
    """The registration of ``name``, or ``None``."""
    return _REGISTRY.get(name)


# -- where ----------------------------------------------------------------------------------------


def artifact_folder() -> Path:
    """``<data path>/artifacts`` (see :func:`coursekit.movielens.get_data_path`)."""
    from coursekit.movielens import get_data_path

    return get_data_path() / ARTIFACTS_FOLDER


def artifact_path(name: str, kind: str = "split") -> Path:
    """The data file of artefact ``name`` of ``kind`` (``'interactions'``, ``'split'`` or ``'model'``)."""
    _check_name(name)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")
    return artifact_folder() / f"{name}{KINDS[kind].suffix}"


def manifest_path(name: str) -> Path:
    """The manifest of artefact ``name``: ``<data path>/artifacts/<name>.manifest.json``."""
    _check_name(name)
    return artifact_folder() / f"{name}{MANIFEST_SUFFIX}"


# -- settings -------------------------------------------------------------------------------------


def settings_key(settings: Mapping[str, Any] | None) -> str:
    """SHA-256 of ``settings`` as canonical JSON: the key an artefact is stored under."""
    return hashlib.sha256(_canonical(settings).encode()).hexdigest()


def _canonical(settings: Mapping[str, Any] | None) -> str:
    if settings is None:
        settings = {}
    if not isinstance(settings, Mapping):
        raise TypeError(f"settings must be a mapping of names to plain values, got {type(settings).__name__}")
    return json.dumps(settings, sort_keys=True, separators=(",", ":"), default=_plain, allow_nan=False)


def _plain(value: Any) -> Any:
    if hasattr(value, "item") and callable(value.item):  # numpy and torch scalars
        return value.item()
    if callable(value) and hasattr(value, "__qualname__"):  # a function or class: its importable name
        return f"{value.__module__}.{value.__qualname__}"
    raise TypeError(f"settings must hold plain values (numbers, strings, lists, dicts), got {value!r}")


# -- save -----------------------------------------------------------------------------------------


def save_artifact(obj: Any, name: str, settings: Mapping[str, Any] | None = None) -> Path:
    """Save ``obj`` as artefact ``name`` with a manifest; return the data file's path.

    Parameters
    ----------
    obj
        An ``Interactions``, a tuple of them (a split) or a coursekit model.
    name
        A plain file stem (letters, digits, ``_``, ``.``, ``-``).
    settings
        What built ``obj``, stored in the manifest; loading with other settings rebuilds.
        Default: the registered settings of ``name`` (the caller vouches ``obj`` was built by them), else ``{}``.

    Notes
    -----
    Both files are written atomically (data first, then manifest), and stale temporary files of
    killed saves are removed first. In a read-only folder nothing is written: one line is printed
    and the path of any copy already there is returned.
    """
    kind = kind_of(obj)
    path = artifact_path(name, kind.name)
    settings = _settings_for(name, settings)
    canonical = _canonical(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not os.access(path.parent, os.W_OK):
            raise PermissionError(errno.EACCES, "not writable", str(path.parent))
        for other in _files_of(name):
            remove_stale_temporaries(other)
        content = kind.write(obj, path)
        manifest = {
            "coursekit_artifact": MANIFEST_FORMAT,
            "name": name,
            "kind": kind.name,
            "file": path.name,
            "sha256": _sha256(path),
            "bytes": path.stat().st_size,
            "settings": json.loads(canonical),
            "settings_sha256": settings_key(settings),
            "content": content,
        }
        manifest["manifest_sha256"] = _manifest_digest(manifest)
        with atomic_write(manifest_path(name), "w") as stream:
            json.dump(manifest, stream, indent=1, sort_keys=True)
            stream.write("\n")
    except OSError as error:
        if error.errno not in _READ_ONLY:
            raise
        kept = "the copy already there is kept" if manifest_path(name).exists() else "it is rebuilt when needed"
        print(f"coursekit: {path.parent} is read-only: {name!r} not saved ({kept})")
    return path


# -- load -----------------------------------------------------------------------------------------


def load_artifact(name: str, settings: Mapping[str, Any] | None = None) -> Any:
    """Load artefact ``name`` after checking its manifest, checksum, settings and content.

    Raises
    ------
    FileNotFoundError
        Nothing was saved under ``name``.
    ArtifactError
        The files are damaged, not an artefact, or were built with other ``settings``
        (default: the registered ones). A registered artefact is rebuilt instead (one line says why).
    """
    entry = registered(name)
    try:
        return _load_checked(name, _settings_for(name, settings))
    except ArtifactError as error:
        if entry is None:
            raise
        return _rebuild(name, entry.build, _settings_for(name, settings), error)


def load_or_build(name: str, build: Callable[[], T] | None = None, settings: Mapping[str, Any] | None = None) -> T:
    """Load artefact ``name``, or build it with ``build()`` and save it when missing, damaged or stale.

    Parameters
    ----------
    name
        The artefact's name.
    build
        A function of no arguments returning the object (default: the registered builder).
    settings
        What ``build`` depends on (default: the registered settings, else ``{}``): an artefact
        saved with other settings is rebuilt.
    """
    entry = registered(name)
    if build is None:
        if entry is None:
            raise ValueError(f"no builder registered for artefact {name!r}: pass build=, a function of no arguments")
        build = entry.build
    if not callable(build):
        raise TypeError(f"build must be a function of no arguments, got {type(build).__name__}")
    settings = _settings_for(name, settings)
    try:
        return _load_checked(name, settings)
    except FileNotFoundError:
        pass
    except ArtifactError as error:
        return _rebuild(name, build, settings, error)
    obj = build()
    save_artifact(obj, name, settings)
    return obj


def _rebuild(name: str, build: Callable[[], T], settings: Mapping[str, Any], error: ArtifactError) -> T:
    print(f"coursekit: artefact {name!r} at {error.path}: {error.problem}; rebuilding it")
    obj = build()
    save_artifact(obj, name, settings)
    return obj


def _load_checked(name: str, settings: Mapping[str, Any]) -> Any:
    manifest_file = manifest_path(name)
    data_files = [artifact_path(name, kind) for kind in KINDS]
    if not manifest_file.exists():
        present = [p for p in data_files if p.exists()]
        if present:
            raise ArtifactError(name, present[0], "it has no manifest, so it cannot be checked")
        raise FileNotFoundError(
            f"no saved artefact {name!r} in {manifest_file.parent}: run the lesson that saves it, "
            "or use coursekit.course.load_or_build"
        )
    manifest = _read_manifest(name, manifest_file)
    kind = KINDS[manifest["kind"]]
    path = artifact_path(name, kind.name)
    if manifest["settings_sha256"] != settings_key(settings):
        raise ArtifactError(name, manifest_file, _settings_difference(manifest["settings"], settings), stale=True)
    if not path.is_file():
        raise ArtifactError(name, path, "the data file is missing (or not a regular file)")
    if path.stat().st_size != manifest["bytes"] or _sha256(path) != manifest["sha256"]:
        raise ArtifactError(name, path, "damaged: its SHA-256 differs from the one in its manifest")
    try:
        return kind.read(path, manifest["content"])
    except (ArtifactFormatError, ValueError, TypeError, KeyError, OSError, EOFError) as error:
        raise ArtifactError(name, path, f"not a valid {kind.name} artefact ({error})") from error


def _read_manifest(name: str, path: Path) -> dict[str, Any]:
    if not path.is_file():  # a FIFO or a link to /dev/zero would never finish reading
        raise ArtifactError(name, path, "the manifest is not a regular file")
    try:
        with open(path, "rb") as stream:
            raw = stream.read(_MAX_MANIFEST_BYTES + 1)
        if len(raw) > _MAX_MANIFEST_BYTES:
            raise ValueError(f"larger than {_MAX_MANIFEST_BYTES} bytes")
        manifest = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise ArtifactError(name, path, f"the manifest is damaged ({error})") from error
    problem = _manifest_problem(name, manifest)
    if problem:
        raise ArtifactError(name, path, f"the manifest is damaged ({problem})")
    return manifest


def _manifest_problem(name: str, manifest: Any) -> str | None:
    if not isinstance(manifest, dict):
        return "not a JSON object"
    if manifest.get("manifest_sha256") != _manifest_digest(manifest):
        return "its content does not match its own SHA-256"
    if manifest.get("coursekit_artifact") != MANIFEST_FORMAT:
        return f"format {manifest.get('coursekit_artifact')!r}, expected {MANIFEST_FORMAT}"
    if manifest.get("name") != name:
        return f"it describes {manifest.get('name')!r}"
    kind = manifest.get("kind")
    if kind not in KINDS:
        return f"unknown kind {kind!r}"
    if manifest.get("file") != f"{name}{KINDS[kind].suffix}":
        return f"it names the file {manifest.get('file')!r}"
    for key in ("sha256", "settings_sha256"):
        value = manifest.get(key)
        if not isinstance(value, str) or not re.fullmatch(r"[0-9a-f]{64}", value):
            return f"{key} is not a SHA-256"
    if not isinstance(manifest.get("bytes"), int) or isinstance(manifest.get("bytes"), bool):
        return "bytes is not an integer"
    if not isinstance(manifest.get("settings"), dict) or not isinstance(manifest.get("content"), dict):
        return "settings and content must be JSON objects"
    if settings_key(manifest["settings"]) != manifest["settings_sha256"]:
        return "its settings do not match their SHA-256"
    return None


def _manifest_digest(manifest: Mapping[str, Any]) -> str:
    """SHA-256 of the manifest without this field: a damaged manifest is detected like damaged data."""
    rest = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    return hashlib.sha256(json.dumps(rest, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _settings_difference(saved: Mapping[str, Any], wanted: Mapping[str, Any]) -> str:
    wanted = json.loads(_canonical(wanted))
    keys = sorted(set(saved) | set(wanted))
    changed = [k for k in keys if saved.get(k, "<unset>") != wanted.get(k, "<unset>")]
    shown = ", ".join(f"{k}: {saved.get(k, '<unset>')!r} -> {wanted.get(k, '<unset>')!r}" for k in changed[:3])
    return f"built with other settings ({shown}{', ...' if len(changed) > 3 else ''})"


def _settings_for(name: str, settings: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if settings is not None:
        _canonical(settings)  # fail early on values that cannot be stored
        return settings
    entry = registered(name)
    return {} if entry is None else entry.settings


def _files_of(name: str) -> list[Path]:
    folder = artifact_folder()
    return [folder / f"{name}{suffix}" for suffix in sorted({k.suffix for k in KINDS.values()})] + [
        folder / f"{name}{MANIFEST_SUFFIX}"
    ]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not _NAME.fullmatch(name) or name.endswith((".joblib", ".npz", ".pt", ".json")):
        raise ValueError(
            f"name must be a plain file stem (letters, digits, '_', '.', '-'; no folders, no "
            f"suffix such as '.npz'), got {name!r}"
        )
