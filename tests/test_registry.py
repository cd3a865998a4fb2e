"""Model registry: parsing and validation, package / local / cached-hub resolution, sha256 checks,
offline pull, and the models.toml shipped with the package."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest

from genannot.errors import ModelError, NetworkError
from genannot.models import registry as reg
from genannot.models.registry import (
    KINDS,
    combined_digest,
    directory_digests,
    entry_toml,
    file_sha256,
    get_spec,
    list_models,
    load_registry,
    pull_model,
    resolve_model,
    resolve_pair,
    verify_models,
)

REPO = Path(__file__).resolve().parents[1]
COMMIT = "0123456789abcdef0123456789abcdef01234567"


# ---------------------------------------------------------------- helpers


def make_model_dir(path: Path, payload: bytes = b"\x00\x01weights") -> Path:
    path.mkdir(parents=True, exist_ok=True)
    (path / "config.json").write_text('{"model_type": "bert"}\n')
    (path / "model.safetensors").write_bytes(payload)
    (path / "tokenizer").mkdir(exist_ok=True)
    (path / "tokenizer" / "vocab.txt").write_text("[PAD]\n[UNK]\nA\nC\nG\nT\n")
    return path


def files_table(directory: Path) -> str:
    return "\n".join(f'"{rel}" = "{d}"' for rel, d in directory_digests(directory).items())


def write_registry(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "models.toml"
    p.write_text(text)
    return p


@pytest.fixture
def package_registry(tmp_path: Path) -> Path:
    """A registry with a packaged CDS model (default) and a packaged TIS model paired to it."""
    cds = make_model_dir(tmp_path / "weights" / "tiny-cds")
    tis = make_model_dir(tmp_path / "weights" / "tiny-tis", payload=b"tis weights")
    return write_registry(
        tmp_path,
        f"""
[models.tiny-cds]
kind = "prok-cds"
source = "package:tiny-cds"
default = true
pair = "tiny-tis"
training = ["ecoli", "bsub"]

[models.tiny-cds.files]
{files_table(cds)}

[models.tiny-cds.metrics.mtb]
sensitivity = 0.9

[models.tiny-tis]
kind = "prok-tis"
source = "package:tiny-tis"

[models.tiny-tis.files]
{files_table(tis)}
""",
    )


def fake_hub(cache: Path, repo_id: str, commit: str = COMMIT, ref: str | None = "main") -> Path:
    """The huggingface_hub cache layout: models--ORG--NAME/{refs/REF, snapshots/COMMIT/...}."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    blobs = repo_dir / "blobs"
    snap = repo_dir / "snapshots" / commit
    staging = make_model_dir(cache.parent / "staging" / repo_id.replace("/", "_"))
    snap.mkdir(parents=True)
    blobs.mkdir(parents=True, exist_ok=True)
    for rel, digest in directory_digests(staging).items():  # blobs named by digest, snapshot files are symlinks
        blob = blobs / digest
        blob.write_bytes((staging / rel).read_bytes())
        target = snap / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(os.path.relpath(blob, target.parent))
    if ref is not None:
        (repo_dir / "refs").mkdir()
        (repo_dir / "refs" / ref).write_text(commit)
    return snap


# ---------------------------------------------------------------- the shipped registry


def test_bundled_registry_is_valid_and_linked_from_repo_root(monkeypatch):
    monkeypatch.delenv(reg.ENV_REGISTRY, raising=False)
    path = reg.registry_path()
    assert path.name == "models.toml" and path.parent.name == "models"  # inside the installed package
    assert reg.weights_root() == path.parent / "weights"
    root = REPO / "models.toml"
    assert root.is_symlink() and root.resolve() == (REPO / "genannot" / "models" / "models.toml").resolve()
    specs = load_registry()
    for name in ("genelm-cds", "genelm-tis", "gena-lm-bert-large-t2t"):
        assert name in specs
    assert specs["genelm-cds"].pair == "genelm-tis"
    assert specs["gena-lm-bert-large-t2t"].kind == "euk-encoder"
    for spec in specs.values():
        assert spec.kind in KINDS
        spec.to_dict()  # serialisable for `models info`


def test_bundled_hub_entries_are_reported_honestly(monkeypatch, tmp_path):
    monkeypatch.delenv(reg.ENV_REGISTRY, raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    status = dict(verify_models(["genelm-cds", "genelm-tis", "gena-lm-bert-large-t2t"]))
    assert set(status.values()) == {"not downloaded"}
    for name in ("genelm-cds", "genelm-tis", "gena-lm-bert-large-t2t"):
        spec = get_spec(name)
        if not spec.pinned:  # revision 'main': verification must say so once downloaded
            assert reg._unverified_reason(spec).startswith("unverified: unpinned revision")


def test_import_sets_offline_variables_unless_already_set():
    code = "import os, genannot.models.registry; print(os.environ['HF_HUB_OFFLINE'], os.environ['TRANSFORMERS_OFFLINE'])"
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["1", "1"]
    env["HF_HUB_OFFLINE"] = "0"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0", "1"]


# ---------------------------------------------------------------- package and local resolution


def test_package_resolution_by_default_and_by_name(package_registry: Path):
    weights = package_registry.parent / "weights"
    m = resolve_model(None, "prok-cds", registry=package_registry)
    assert m.name == "tiny-cds" and m.kind == "prok-cds"
    assert m.path == weights / "tiny-cds"
    assert m.status == "ok" and m.verified
    assert m.sha256 == combined_digest(directory_digests(weights / "tiny-cds"))
    assert resolve_model("tiny-cds", "prok-cds", registry=package_registry).path == m.path
    assert m.to_dict()["sha256"] == m.sha256


def test_registry_from_environment_variable(package_registry: Path, monkeypatch):
    monkeypatch.setenv(reg.ENV_REGISTRY, str(package_registry))
    assert [s.name for s in list_models()] == ["tiny-cds", "tiny-tis"]
    assert [s.name for s in list_models("prok-tis")] == ["tiny-tis"]
    assert resolve_model(None, "prok-cds").path == package_registry.parent / "weights" / "tiny-cds"


def test_pair_gives_the_tis_model(package_registry: Path):
    cds, tis = resolve_pair(registry=package_registry)
    assert (cds.name, tis.name) == ("tiny-cds", "tiny-tis")
    other = make_model_dir(package_registry.parent / "my-tis")
    cds, tis = resolve_pair("tiny-cds", str(other), registry=package_registry)
    assert tis.path == other.resolve()


def test_local_directory_is_used_as_is(package_registry: Path, tmp_path: Path):
    d = make_model_dir(tmp_path / "trained")
    m = resolve_model(str(d), "prok-cds", registry=package_registry)
    assert m.path == d.resolve() and m.spec is None
    assert m.status == "unverified: not in the registry"
    # same files as the packaged model -> same combined digest
    assert m.sha256 == resolve_model("tiny-cds", "prok-cds", registry=package_registry).sha256
    (d / ".hidden").write_text("ignored")
    assert resolve_model(d, "prok-cds", registry=package_registry).sha256 == m.sha256


def test_local_directory_errors(package_registry: Path, tmp_path: Path):
    with pytest.raises(ModelError, match="does not exist"):
        resolve_model(str(tmp_path / "nope" / "model"), "prok-cds", registry=package_registry)
    f = tmp_path / "model.pt"
    f.write_bytes(b"x")
    with pytest.raises(ModelError, match="is a file"):
        resolve_model(str(f), "prok-cds", registry=package_registry)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelError, match="holds no files"):
        resolve_model(str(tmp_path / "empty"), "prok-cds", registry=package_registry)


def test_local_source_in_registry_relative_to_the_file(tmp_path: Path):
    d = make_model_dir(tmp_path / "models" / "seg")
    r = write_registry(
        tmp_path,
        f'[models.seg]\nkind = "euk-seg"\nsource = "models/seg"\ndefault = true\n[models.seg.files]\n{files_table(d)}\n',
    )
    m = resolve_model(None, "euk-seg", registry=r)
    assert m.path == d and m.status == "ok"
    assert pull_model("seg", registry=r) == d  # non-hub entries: pull only verifies


# ---------------------------------------------------------------- cached hub resolution


def hub_registry(tmp_path: Path, revision: str, files: str = "") -> Path:
    return write_registry(
        tmp_path,
        f'[models.hubby]\nkind = "prok-tis"\nsource = "hf:some-org/hubby-model"\nrevision = "{revision}"\n'
        + (f"[models.hubby.files]\n{files}\n" if files else ""),
    )


def test_cached_hub_resolution_by_ref_and_by_commit(tmp_path: Path, monkeypatch):
    cache = tmp_path / "hub"
    snap = fake_hub(cache, "some-org/hubby-model")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))  # read at call time
    for revision in ("main", COMMIT):
        r = hub_registry(tmp_path, revision, files_table(snap))
        m = resolve_model("hubby", "prok-tis", registry=r)
        assert m.path == snap and m.status == "ok"
        assert verify_models(registry=r) == [("hubby", "ok")]


def test_hub_cache_location_from_hf_home(tmp_path: Path, monkeypatch):
    snap = fake_hub(tmp_path / "hfhome" / "hub", "some-org/hubby-model")
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.delenv("HUGGINGFACE_HUB_CACHE", raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hfhome"))
    r = hub_registry(tmp_path, COMMIT, files_table(snap))
    assert resolve_model("hubby", "prok-tis", registry=r).path == snap


def test_hub_model_not_downloaded(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    r = hub_registry(tmp_path, "main")
    with pytest.raises(ModelError, match=r"not downloaded; run `genannot models pull hubby`"):
        resolve_model("hubby", "prok-tis", registry=r)
    assert verify_models(registry=r) == [("hubby", "not downloaded")]
    # another revision than the cached one is not downloaded either
    fake_hub(tmp_path / "hub", "some-org/hubby-model")
    r = hub_registry(tmp_path, "f" * 40)
    assert verify_models(registry=r) == [("hubby", "not downloaded")]


def test_hub_model_without_digests_is_unverified(tmp_path: Path, monkeypatch):
    cache = tmp_path / "hub"
    snap = fake_hub(cache, "some-org/hubby-model")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    r = hub_registry(tmp_path, "main")
    m = resolve_model("hubby", "prok-tis", registry=r)
    assert m.path == snap
    assert m.status == "unverified: unpinned revision main, no digests recorded"
    assert m.sha256 == combined_digest(directory_digests(snap))
    r = hub_registry(tmp_path, COMMIT)
    assert verify_models(registry=r) == [("hubby", "unverified: no digests recorded")]


# ---------------------------------------------------------------- sha256


def test_file_sha256_streams(tmp_path: Path):
    import hashlib

    p = tmp_path / "big.bin"
    data = os.urandom(3 * 1024 * 1024 + 17)
    p.write_bytes(data)
    assert file_sha256(p, chunk_size=4096) == hashlib.sha256(data).hexdigest()


def test_sha256_mismatch_is_rejected_naming_the_file(package_registry: Path):
    bad = package_registry.parent / "weights" / "tiny-cds" / "model.safetensors"
    bad.write_bytes(b"tampered weights, longer than before")
    with pytest.raises(ModelError, match=r"sha256 mismatch for .*tiny-cds/model\.safetensors"):
        resolve_model(None, "prok-cds", registry=package_registry)
    with pytest.raises(ModelError, match="model.safetensors"):
        pull_model("tiny-cds", registry=package_registry)
    assert dict(verify_models(registry=package_registry)) == {"tiny-cds": "mismatch: model.safetensors", "tiny-tis": "ok"}


def test_missing_file_is_rejected_naming_the_file(package_registry: Path):
    (package_registry.parent / "weights" / "tiny-tis" / "tokenizer" / "vocab.txt").unlink()
    with pytest.raises(ModelError, match=r"file tokenizer/vocab\.txt is missing"):
        resolve_model("tiny-tis", "prok-tis", registry=package_registry)
    assert dict(verify_models(["tiny-tis"], registry=package_registry)) == {"tiny-tis": "missing: tokenizer/vocab.txt"}


def test_missing_package_folder(package_registry: Path):
    import shutil

    shutil.rmtree(package_registry.parent / "weights" / "tiny-tis")
    with pytest.raises(ModelError, match="packaged weights folder .* is missing"):
        resolve_model("tiny-tis", "prok-tis", registry=package_registry)
    assert dict(verify_models(registry=package_registry))["tiny-tis"] == "missing: tiny-tis"


def test_digests_are_cached_per_process(package_registry: Path, monkeypatch):
    resolve_model(None, "prok-cds", registry=package_registry)
    calls = []
    monkeypatch.setattr(reg, "file_sha256", lambda p, *a, **k: calls.append(p) or "0" * 64)
    resolve_model(None, "prok-cds", registry=package_registry)
    assert calls == []


# ---------------------------------------------------------------- pull (network) fails cleanly offline


def test_offline_pull_fails_with_one_line(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port on loopback: refused at once
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = hub_registry(tmp_path, "main")
    t0 = time.monotonic()
    with pytest.raises(NetworkError) as info:
        pull_model("hubby", registry=r)
    assert time.monotonic() - t0 < 60
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("could not download hubby (some-org/hubby-model@main)")
    assert os.environ["HF_HUB_OFFLINE"] == "1"  # offline switches restored
    assert not (tmp_path / "hub" / "models--some-org--hubby-model" / "snapshots").exists()


def test_pull_lifts_offline_mode_and_verifies_the_download(tmp_path: Path, monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    staged = make_model_dir(tmp_path / "staged")
    r = hub_registry(tmp_path, COMMIT, files_table(staged))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    seen = {}

    def fake_snapshot_download(repo_id, **kw):
        seen.update(kw, repo_id=repo_id, env=os.environ["HF_HUB_OFFLINE"], flag=constants.HF_HUB_OFFLINE)
        return str(fake_hub(Path(kw["cache_dir"]), repo_id, commit=kw["revision"], ref=None))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    path = pull_model("hubby", cache_dir=cache, registry=r)
    assert seen["repo_id"] == "some-org/hubby-model" and seen["revision"] == COMMIT
    assert seen["env"] == "0" and seen["flag"] is False  # online only during the download
    assert seen["allow_patterns"] == sorted(directory_digests(staged))
    assert os.environ["HF_HUB_OFFLINE"] == "1" and constants.HF_HUB_OFFLINE is True
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    assert resolve_model("hubby", "prok-tis", registry=r).path == path

    # a download whose files differ from the recorded digests is refused
    other = tmp_path / "other"
    r = hub_registry(tmp_path, "f" * 40, files_table(staged).replace(next(iter(directory_digests(staged).values())), "0" * 64))
    with pytest.raises(ModelError, match="sha256 mismatch"):
        pull_model("hubby", cache_dir=other, registry=r)


def test_cli_models_commands(package_registry: Path, tmp_path: Path, monkeypatch, capsys):
    from genannot.cli import main

    monkeypatch.setenv(reg.ENV_REGISTRY, str(package_registry))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("MKL_NUM_THREADS", "1")
    assert main(["models", "list", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "tiny-cds" in out and "tiny-tis" in out
    assert main(["models", "info", "tiny-cds", "--threads", "1"]) == 0
    assert '"pair": "tiny-tis"' in capsys.readouterr().out
    assert main(["models", "verify", "--threads", "1"]) == 0
    assert capsys.readouterr().out.split() == ["tiny-cds", "ok", "tiny-tis", "ok"]

    (tmp_path / "h").mkdir()
    hub = hub_registry(tmp_path / "h", "main")
    monkeypatch.setenv(reg.ENV_REGISTRY, str(hub))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hubcache"))
    code = main(["models", "pull", "hubby", "--threads", "1"])
    err = capsys.readouterr().err
    assert code == NetworkError.exit_code
    assert err.count("\n") == 1 and "Traceback" not in err and "could not download hubby" in err


# ---------------------------------------------------------------- validation and messages


def test_at_most_one_default_per_kind(tmp_path: Path):
    r = write_registry(
        tmp_path,
        '[models.a]\nkind = "euk-seg"\nsource = "/x"\ndefault = true\n'
        '[models.b]\nkind = "euk-seg"\nsource = "/y"\ndefault = true\n'
        '[models.c]\nkind = "prok-cds"\nsource = "/z"\ndefault = true\n',
    )
    with pytest.raises(ModelError, match="more than one default euk-seg model: a, b"):
        load_registry(r)


def test_unknown_name_lists_models_of_that_kind(package_registry: Path):
    with pytest.raises(ModelError) as info:
        resolve_model("nosuch", "prok-cds", registry=package_registry)
    msg = str(info.value)
    assert "unknown model 'nosuch'" in msg and "available prok-cds models: tiny-cds" in msg
    assert "tiny-tis" not in msg
    with pytest.raises(ModelError, match="no euk-seg models are registered"):
        resolve_model("nosuch", "euk-seg", registry=package_registry)
    with pytest.raises(ModelError, match="unknown model 'nosuch'; registered: tiny-cds, tiny-tis"):
        get_spec("nosuch", registry=package_registry)


def test_wrong_kind_and_no_default(package_registry: Path):
    with pytest.raises(ModelError, match="tiny-tis is a prok-tis model, but a prok-cds model is needed"):
        resolve_model("tiny-tis", "prok-cds", registry=package_registry)
    with pytest.raises(ModelError, match="no default prok-tis model is registered"):
        resolve_model(None, "prok-tis", registry=package_registry)


@pytest.mark.parametrize(
    "body, message",
    [
        ('[models.a]\nkind = "prok-cds"\nsource = "/x"\ndefualt = true\n', "unknown key"),
        ('[models.a]\nkind = "prok"\nsource = "/x"\n', "kind 'prok' is not one of"),
        ('[models.a]\nsource = "/x"\n', "missing 'kind'"),
        ('[models.a]\nkind = "prok-cds"\nsource = "hf:org/name"\n', "need a 'revision'"),
        ('[models.a]\nkind = "prok-cds"\nsource = "hf:not a repo"\nrevision = "main"\n', "not a Hugging Face repo id"),
        ('[models.a]\nkind = "prok-cds"\nsource = "/x"\nrevision = "main"\n', "only applies to hf:"),
        ('[models.a]\nkind = "prok-cds"\nsource = "package:a"\n', "must list the sha256"),
        ('[models.a]\nkind = "prok-cds"\nsource = "package:../a"\n[models.a.files]\nx = "' + "0" * 64 + '"\n', "inside the weights"),
        ('[models.a]\nkind = "prok-cds"\nsource = "/x"\n[models.a.files]\nx = "abc"\n', "not a lowercase sha256"),
        ('[models.a]\nkind = "prok-cds"\nsource = "/x"\n[models.a.files]\n"../x" = "' + "0" * 64 + '"\n', "relative path"),
        ('[models.a]\nkind = "prok-cds"\nsource = "/x"\npair = "b"\n', "pair 'b' is not a prok-tis model"),
        ('[models.a]\nkind = "prok-tis"\nsource = "/x"\npair = "a"\n', "only applies to prok-cds"),
        ('[models.a]\nkind = "prok-cds"\nsource = "/x"\ndefault = "yes"\n', "'default' has the wrong type"),
        ('[model.a]\nkind = "prok-cds"\n', "unknown top-level"),
        ("[models.a\n", "invalid TOML"),
    ],
)
def test_registry_validation(tmp_path: Path, body: str, message: str):
    with pytest.raises(ModelError, match=message):
        load_registry(write_registry(tmp_path, body))


def test_missing_registry_file(tmp_path: Path):
    with pytest.raises(ModelError, match="not found"):
        load_registry(tmp_path / "absent.toml")


def test_entry_toml_appends_a_loadable_entry(package_registry: Path, tmp_path: Path):
    d = make_model_dir(package_registry.parent / "weights" / "new-seg", payload=b"new")
    text = entry_toml(
        "new-seg", "euk-seg", "package:new-seg", d, default=True, tokenizer="onehot",
        training=["human chr1 \"slice\""], description="a test", metrics={"human": {"exon_f1": 0.5}, "n": 3},
    )
    tomllib.loads(text)  # valid on its own
    with open(package_registry, "a") as fh:
        fh.write("\n" + text)
    spec = get_spec("new-seg", registry=package_registry)
    assert spec.training == ('human chr1 "slice"',) and spec.metrics == {"n": 3, "human": {"exon_f1": 0.5}}
    m = resolve_model(None, "euk-seg", registry=package_registry)
    assert m.status == "ok" and m.path == d
