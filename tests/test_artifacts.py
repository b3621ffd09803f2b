"""coursekit.course.artifacts: no pickle, every damage detected and named, settings-keyed, read-only safe."""

from __future__ import annotations

import errno
import json
import os
import pickle
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit.course import artifacts, data, models
from coursekit.course.artifacts import ArtifactError
from coursekit.course.recipes import LESSON03
from coursekit.interactions import Interactions
from coursekit.model import MatrixFactorizationModel

NUM_USERS, NUM_ITEMS = 12, 9


def small(seed: int = 0, timestamps: bool = True) -> Interactions:
    rng = np.random.default_rng(seed)
    users = np.repeat(np.arange(NUM_USERS), 4)
    items = np.concatenate([rng.choice(NUM_ITEMS, 4, replace=False) for _ in range(NUM_USERS)])
    return Interactions(
        users=users,
        items=items,
        num_negative_samples=2,
        allow_missing_ids=True,
        timestamps=rng.integers(0, 10**9, len(users)) if timestamps else None,
    )


def small_split() -> tuple[Interactions, Interactions]:
    from coursekit.cross_validation import stratified_split

    return stratified_split(small(), test_p=0.25, seed=1)


def tiny_model() -> MatrixFactorizationModel:
    model = MatrixFactorizationModel(train=small(), embedding_dim=3, seed=0)
    return model.eval()


def same(a: Interactions, b: Interactions) -> bool:
    return (
        (a.mat != b.mat).nnz == 0
        and (a.num_users, a.num_items, a.num_negative_samples) == (b.num_users, b.num_items, b.num_negative_samples)
        and (a.timestamps is None) == (b.timestamps is None)
        and (a.timestamps is None or np.array_equal(a.timestamps, b.timestamps))
    )


@pytest.fixture
def folder(tmp_path, monkeypatch):
    """An empty data folder: artefacts written by a test never reach the real cache."""
    monkeypatch.setenv("DATA_PATH", str(tmp_path))
    return tmp_path / "artifacts"


class Builder:
    """A builder that counts its calls."""

    def __init__(self, make):
        self.make, self.calls = make, 0

    def __call__(self):
        self.calls += 1
        return self.make()


# -- round trips ----------------------------------------------------------------------------------


def test_interactions_split_and_model_round_trip_without_pickle(folder):
    interactions, split, model = small(), small_split(), tiny_model()
    assert artifacts.save_artifact(interactions, "one") == folder / "one.npz"
    assert artifacts.save_artifact(split, "two") == folder / "two.npz"
    assert artifacts.save_artifact(model, "three") == folder / "three.pt"
    assert same(artifacts.load_artifact("one"), interactions)
    loaded = artifacts.load_artifact("two")
    assert isinstance(loaded, tuple) and len(loaded) == 2 and all(same(a, b) for a, b in zip(loaded, split))
    users = torch.arange(NUM_USERS)
    assert torch.equal(artifacts.load_artifact("three").score_all_items(users), model.score_all_items(users))
    assert sorted(os.listdir(folder)) == sorted(
        ["one.npz", "one.manifest.json", "two.npz", "two.manifest.json", "three.pt", "three.manifest.json"]
    )  # no temporary file left behind
    manifest = json.loads((folder / "two.manifest.json").read_text())
    assert manifest["kind"] == "split" and len(manifest["sha256"]) == 64
    assert manifest["content"]["arrays"]["part0_indptr"] == {"dtype": "int64", "shape": [NUM_USERS + 1]}


def test_a_reloaded_interactions_without_timestamps_keeps_none(folder):
    artifacts.save_artifact(small(timestamps=False), "plain")
    assert artifacts.load_artifact("plain").timestamps is None


def test_only_interactions_splits_and_models_are_artefacts(folder):
    for obj in ({"a": 1}, (small(), "x"), (), np.arange(3)):
        with pytest.raises(TypeError, match="an artefact must be an Interactions, a tuple of Interactions"):
            artifacts.save_artifact(obj, "thing")


@pytest.mark.parametrize("name", ["", "../escape", "a/b", "/abs", ".hidden", "x.joblib", "x.npz", "sp ace", 3, None])
def test_artifact_names_must_be_plain_stems(folder, name):
    with pytest.raises(ValueError, match="name must be a plain file stem"):
        artifacts.save_artifact(small(), name)


def test_loading_a_missing_artifact_names_it(folder):
    with pytest.raises(FileNotFoundError, match="'nothing'.*run the lesson"):
        artifacts.load_artifact("nothing")


def test_load_or_build_builds_once_then_loads(folder):
    build = Builder(small)
    first = artifacts.load_or_build("built", build)
    second = artifacts.load_or_build("built", build)
    assert build.calls == 1 and same(first, second)


def test_load_or_build_rejects_a_non_callable(folder):
    with pytest.raises(TypeError, match="build must be a function of no arguments, got int"):
        artifacts.load_or_build("x", 42)
    with pytest.raises(ValueError, match="no builder registered for artefact 'x'"):
        artifacts.load_or_build("x")


# -- no pickle ------------------------------------------------------------------------------------


class Payload:
    """Unpickling this creates the marker file: proof that code from the data folder ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


SUFFIXES = (".npz", ".pt", ".manifest.json", ".joblib")
NAMES = ("implicit_movielens", "tutorial_split", "mf_lesson03", "mf_tuned", "custom")


def plant(folder: Path, marker: Path, names=NAMES, forge_manifest: bool = False) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    payload = pickle.dumps(Payload(marker))
    for name in names:
        for suffix in SUFFIXES:
            (folder / f"{name}{suffix}").write_bytes(payload)
        if forge_manifest:  # a manifest that correctly describes the planted file, as an attacker could write
            kind = "model" if name.startswith("mf_") else "split"
            forged = {
                "coursekit_artifact": 1,
                "name": name,
                "kind": kind,
                "file": f"{name}{'.pt' if kind == 'model' else '.npz'}",
                "sha256": artifacts._sha256(folder / f"{name}{'.pt' if kind == 'model' else '.npz'}"),
                "bytes": len(payload),
                "settings": dict(artifacts._settings_for(name, None)),
                "settings_sha256": artifacts.settings_key(artifacts._settings_for(name, None)),
                "content": {"arrays": {}, "parts": [], "class": "MatrixFactorizationModel"},
            }
            forged["manifest_sha256"] = artifacts._manifest_digest(forged)
            (folder / f"{name}.manifest.json").write_text(json.dumps(forged))


@pytest.mark.parametrize("forge_manifest", [False, True], ids=["pickle-everywhere", "pickle-with-forged-manifest"])
def test_planted_pickles_never_run_and_are_rebuilt_or_refused(folder, tmp_path, monkeypatch, capsys, forge_manifest):
    marker = tmp_path / "pwned"
    plant(folder, marker, forge_manifest=forge_manifest)
    # Builders that need no MovieLens, under the registered names and settings.
    replacements = {
        "implicit_movielens": small,
        "tutorial_split": small_split,
        "mf_lesson03": tiny_model,
        "mf_tuned": tiny_model,
    }
    for name, build in replacements.items():
        monkeypatch.setitem(artifacts._REGISTRY, name, artifacts.Registered(build, artifacts._REGISTRY[name].settings))
    monkeypatch.setattr(data, "build_tutorial_split", small_split)
    loaded = {
        "implicit_movielens": artifacts.load_artifact("implicit_movielens"),
        "tutorial_split": data.tutorial_split(),
        "mf_lesson03": models.load_or_train_model("mf_lesson03", tiny_model),
        "mf_tuned": artifacts.load_artifact("mf_tuned"),
    }
    assert not marker.exists()
    assert same(loaded["implicit_movielens"], small())
    assert all(same(a, b) for a, b in zip(loaded["tutorial_split"], small_split()))
    assert isinstance(loaded["mf_lesson03"], MatrixFactorizationModel) and isinstance(
        loaded["mf_tuned"], MatrixFactorizationModel
    )
    out = capsys.readouterr().out
    for name in replacements:
        assert f"artefact {name!r} at {folder}" in out and "rebuilding it" in out
    # Unregistered: a clear refusal that names the file and says what to delete.
    with pytest.raises(ArtifactError, match=rf"artefact 'custom' at {folder}.*Delete .*custom"):
        artifacts.load_artifact("custom")
    assert not marker.exists()
    # The rebuilt artefacts now load cleanly.
    assert same(artifacts.load_artifact("implicit_movielens"), small())


def test_the_library_loaders_refuse_planted_pickles(tmp_path):
    from coursekit.model import load_model

    marker = tmp_path / "pwned"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ValueError, match="not a coursekit model file"):
        load_model(path)
    with pytest.raises(ValueError, match="pickled"):
        np.load(path, allow_pickle=False)
    assert not marker.exists()


# -- damage ---------------------------------------------------------------------------------------


def flipped_positions(path: Path, count: int = 25) -> list[int]:
    size = path.stat().st_size
    return sorted(set(np.linspace(0, size - 1, count).astype(int).tolist()))


KINDS = {
    "split npz": ("split", ".npz", small_split),
    "interactions npz": ("interactions", ".npz", small),
    "model pt": ("model", ".pt", tiny_model),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("target", ["data", "manifest"])
@pytest.mark.parametrize("bit", [0x01, 0x80], ids=["low-bit", "high-bit"])
def test_every_flip_is_detected_named_and_rebuilt(folder, capsys, kind, target, bit):
    _, suffix, make = KINDS[kind]
    reference = make()
    artifacts.save_artifact(reference, "thing")
    path = folder / ("thing" + (suffix if target == "data" else ".manifest.json"))
    original = path.read_bytes()
    for position in flipped_positions(path):
        damaged = bytearray(original)
        damaged[position] ^= bit
        path.write_bytes(bytes(damaged))
        with pytest.raises(ArtifactError) as info:
            artifacts.load_artifact("thing")
        assert str(folder / "thing") in str(info.value), position
        build = Builder(make)
        rebuilt = artifacts.load_or_build("thing", build)
        assert build.calls == 1, position
        assert f"artefact 'thing' at {folder / 'thing'}" in capsys.readouterr().out
        if isinstance(rebuilt, Interactions):
            assert same(rebuilt, reference)
        path.write_bytes(original)  # the next flip starts from the intact files
        artifacts.save_artifact(reference, "thing")


@pytest.mark.parametrize("cut", [0, 1, 100, -1])
def test_truncated_files_are_named(folder, cut):
    artifacts.save_artifact(small_split(), "thing")
    path = folder / "thing.npz"
    content = path.read_bytes()
    path.write_bytes(content[:cut])  # -1: all but the last byte
    with pytest.raises(ArtifactError, match=r"thing\.npz: damaged: its SHA-256 differs"):
        artifacts.load_artifact("thing")


@pytest.mark.parametrize("target", ["data", "manifest"])
def test_links_to_devices_are_refused_without_reading_them(folder, target):
    artifacts.save_artifact(small(), "thing")
    path = folder / ("thing.npz" if target == "data" else "thing.manifest.json")
    path.unlink()
    path.symlink_to("/dev/zero")  # reading it would never end
    with pytest.raises(ArtifactError, match="not a regular file"):
        artifacts.load_artifact("thing")


def test_a_data_file_without_manifest_is_not_trusted(folder):
    artifacts.save_artifact(small(), "thing")
    (folder / "thing.manifest.json").unlink()
    with pytest.raises(ArtifactError, match="has no manifest"):
        artifacts.load_artifact("thing")


def test_a_consistent_but_crafted_npz_is_checked_against_what_it_must_hold(folder):
    """An attacker who rewrites both files still cannot make coursekit allocate or trust odd arrays."""
    artifacts.save_artifact(small(), "thing")
    path, manifest_file = folder / "thing.npz", folder / "thing.manifest.json"

    def rewrite(arrays: dict, change_manifest) -> None:
        np.savez(path, **arrays)
        manifest = json.loads(manifest_file.read_text())
        manifest["sha256"], manifest["bytes"] = artifacts._sha256(path), path.stat().st_size
        manifest["content"]["arrays"] = {k: {"dtype": str(v.dtype), "shape": list(v.shape)} for k, v in arrays.items()}
        change_manifest(manifest)
        manifest["manifest_sha256"] = artifacts._manifest_digest(manifest)
        manifest_file.write_text(json.dumps(manifest))

    good = dict(np.load(path))
    cases = {
        "object array": ({**good, "data": np.array([object()] * len(good["data"]))}, lambda m: None, "dtype"),
        "item id out of range": ({**good, "indices": good["indices"] + NUM_ITEMS}, lambda m: None, "item ids outside"),
        "wrong length": ({**good, "data": good["data"][:-1]}, lambda m: None, "must be float32 of shape"),
        "negative size": (good, lambda m: m["content"]["parts"][0].update(num_users=-1), "num_users must be"),
        "huge declared shape": (good, lambda m: m["content"]["arrays"]["data"].update(shape=[10**12]), "manifest says"),
    }
    for label, (arrays, change, message) in cases.items():
        if label == "object array":
            # np.savez would pickle an object array: write it by hand, the way an attacker would.
            np.savez(path, **arrays)  # np.savez pickles the object array: that is the attack
        rewrite(arrays, change)
        with pytest.raises(ArtifactError, match=message):
            artifacts.load_artifact("thing")


# -- settings keys --------------------------------------------------------------------------------


def test_a_changed_recipe_setting_rebuilds(folder, capsys):
    train = small()

    def trained(recipe):
        return Builder(lambda: recipe.fit(train, seed=0)[0])

    first = trained(LESSON03.replace(max_epochs=1))
    key = models.recipe_settings(LESSON03.replace(max_epochs=1), seed=0)
    artifacts.load_or_build("mf", first, key)
    artifacts.load_or_build("mf", first, key)
    assert first.calls == 1  # same settings: loaded
    changed_recipe = LESSON03.replace(max_epochs=1, lr=5e-2)
    changed = trained(changed_recipe)
    model = artifacts.load_or_build("mf", changed, models.recipe_settings(changed_recipe, seed=0))
    assert changed.calls == 1 and model.hparams.lr == 5e-2
    out = capsys.readouterr().out
    assert "built with other settings" in out and "recipe" in out
    other_seed = trained(LESSON03.replace(max_epochs=1))
    artifacts.load_or_build("mf", other_seed, models.recipe_settings(LESSON03.replace(max_epochs=1), seed=1))
    assert other_seed.calls == 1  # another seed is another artefact too


def test_a_changed_tutorial_split_setting_rebuilds(folder, monkeypatch):
    monkeypatch.setattr(data, "build_tutorial_split", small_split)
    data.tutorial_split()
    calls = []
    monkeypatch.setattr(data, "build_tutorial_split", lambda: calls.append(1) or small_split())
    data.tutorial_split()
    assert calls == []
    monkeypatch.setattr(data, "TUTORIAL_SPLIT_SETTINGS", {**data.TUTORIAL_SPLIT_SETTINGS, "test_p": 0.2})
    data.tutorial_split()
    assert calls == [1]


def test_settings_must_be_plain_values(folder):
    with pytest.raises(TypeError, match="settings must hold plain values"):
        artifacts.save_artifact(small(), "thing", {"data": object()})
    assert artifacts.settings_key({"a": 1, "b": [1, 2]}) == artifacts.settings_key({"b": (1, 2), "a": 1})


# -- read-only folders and killed saves -----------------------------------------------------------


@pytest.fixture
def read_only(folder, monkeypatch):
    """Make the data folder read-only: with chmod for normal users, by refusing writes for root."""
    folder.mkdir(parents=True)
    artifacts.save_artifact(small_split(), "tutorial_split", data.TUTORIAL_SPLIT_SETTINGS)
    artifacts.save_artifact(tiny_model(), "mf_tuned")
    if os.geteuid() != 0:
        folder.chmod(0o555)
        folder.parent.chmod(0o555)
        yield folder
        folder.parent.chmod(0o755)
        folder.chmod(0o755)
        return
    real_mkstemp = tempfile.mkstemp

    def refuse(*args, dir=None, **kwargs):
        if dir is not None and Path(dir).resolve().is_relative_to(folder.parent.resolve()):
            raise OSError(errno.EROFS, "Read-only file system", str(dir))
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    yield folder


def test_a_complete_read_only_folder_loads_and_skips_saving(read_only, monkeypatch, capsys):
    before = {p.name: p.read_bytes() for p in read_only.iterdir()}
    monkeypatch.setattr(data, "build_tutorial_split", lambda: pytest.fail("rebuilt although saved"))
    train, validation = data.tutorial_split()
    assert same(train, small_split()[0]) and same(validation, small_split()[1])
    model = models.load_or_train_model("mf_tuned", lambda: pytest.fail("retrained although saved"))
    path = models.save_trained_model(model, "mf_tuned")
    assert path == read_only / "mf_tuned.pt"
    artifacts.save_artifact(small(), "new_thing")
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"coursekit: {read_only} is read-only: 'mf_tuned' not saved (the copy already there is kept)",
        f"coursekit: {read_only} is read-only: 'new_thing' not saved (it is rebuilt when needed)",
    ]
    assert {p.name: p.read_bytes() for p in read_only.iterdir()} == before


def test_a_read_only_folder_with_a_damaged_artefact_rebuilds_in_memory(read_only, capsys):
    path = read_only / "mf_tuned.pt"
    if os.geteuid() != 0:
        pytest.skip("cannot damage a file in a folder made read-only by chmod")
    path.write_bytes(path.read_bytes()[:-10])
    model = models.load_or_train_model("mf_tuned", tiny_model)
    assert isinstance(model, MatrixFactorizationModel)
    out = capsys.readouterr().out
    assert "rebuilding it" in out and "is read-only: 'mf_tuned' not saved" in out


def test_stale_temporary_files_of_killed_saves_are_cleaned_on_the_next_write(folder):
    folder.mkdir(parents=True)
    dead_pid = 2**22 + 12345  # above Linux's default pid_max: no such process
    old = time.time() - 2 * 3600
    stale = [
        folder / ".thing.npz.k2j4h_x1.tmp",  # an older coursekit's name, left hours ago
        folder / f".thing.npz.pid{dead_pid}.abcd1234.tmp",  # a killed process's
        folder / f".thing.manifest.json.pid{dead_pid}.abcd1234.tmp",
    ]
    live = folder / f".thing.npz.pid{os.getpid()}.live0001.tmp"  # a save in progress: kept
    recent_unknown = folder / ".thing.npz.recent01.tmp"  # no pid and recent: may be another machine's save
    other = folder / f".other.npz.pid{dead_pid}.x.tmp"  # another artefact's: not ours to judge now
    for path in [*stale, live, recent_unknown, other]:
        path.write_bytes(b"")
    os.utime(stale[0], (old, old))
    artifacts.save_artifact(small(), "thing")
    left = set(os.listdir(folder))
    assert not any(p.name in left for p in stale)
    assert {live.name, recent_unknown.name, other.name} <= left
    assert same(artifacts.load_artifact("thing"), small())
