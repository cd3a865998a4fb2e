"""Model registry: models.toml -> ModelSpec; resolve a model to a verified local directory; pull.

Importing this module puts the Hugging Face libraries in offline mode (see `ensure_offline`), so
model-loading code must import it *before* transformers / huggingface_hub. Nothing here touches
the network except `pull_model`, which the user runs explicitly (`genannot models pull NAME`).

Resolution (`resolve_model(model, kind)`):
  1. `model` is an existing directory -> used as is; its digest is computed, nothing is checked
     against the registry (status 'unverified: not in the registry'); a kind its config.json
     declares must match.
  2. `model` is a registry name -> that entry (its kind must match).
  3. `model` is None -> the entry marked `default = true` for the kind.
The entry's directory is located (package weights, a local directory, or the local Hugging Face
cache at the pinned revision) and every file listed in `[models.NAME.files]` is sha256-checked.

Which registry file: the `registry=` argument, else $GENANNOT_MODELS_TOML, else the models.toml
shipped inside the package. `package:DIR` sources live in the `weights/` folder beside the registry
file (for the shipped registry that is genannot/models/weights). Relative local paths are relative
to the registry file's folder.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from genannot.errors import ModelError, NetworkError

log = logging.getLogger("genannot.models")

_OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")


def _truthy(value: str | None) -> bool:
    return (value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def ensure_offline() -> None:
    """Set HF_HUB_OFFLINE=1 and TRANSFORMERS_OFFLINE=1 unless the user already set them.

    huggingface_hub reads these at import time, so this must run before it (or transformers) is
    imported; if it was imported already, its cached flag is updated too.
    """
    for var in _OFFLINE_VARS:
        os.environ.setdefault(var, "1")
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None and _truthy(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")):
        constants.HF_HUB_OFFLINE = True


ensure_offline()

# ---------------------------------------------------------------- schema

KINDS = ("prok-cds", "prok-tis", "euk-seg", "euk-encoder")
ENV_REGISTRY = "GENANNOT_MODELS_TOML"

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_SHA_RE = re.compile(r"^[0-9a-f]{64}$")
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
_REPO_RE = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")

# key -> (type(s), required)
_FIELDS: dict[str, tuple[type | tuple[type, ...], bool]] = {
    "kind": (str, True),
    "source": (str, True),
    "revision": (str, False),
    "default": (bool, False),
    "pair": (str, False),
    "tokenizer": (str, False),
    "description": (str, False),
    "architecture": (str, False),
    "license": (str, False),
    "url": (str, False),
    "training": (list, False),
    "files": (dict, False),
    "metrics": (dict, False),
    "extra": (dict, False),
}


@dataclass(frozen=True)
class ModelSpec:
    """One `[models.NAME]` table of models.toml."""

    name: str
    kind: str
    source: str
    revision: str | None = None
    default: bool = False
    pair: str | None = None
    tokenizer: str | None = None
    description: str = ""
    architecture: str | None = None
    license: str | None = None
    url: str | None = None
    training: tuple[str, ...] = ()
    files: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, Any] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    registry_path: Path | None = field(default=None, compare=False, repr=False)

    @property
    def source_type(self) -> str:
        """'package', 'hf' or 'local'."""
        if self.source.startswith("package:"):
            return "package"
        if self.source.startswith("hf:"):
            return "hf"
        return "local"

    @property
    def location(self) -> str:
        """The source without its 'package:' / 'hf:' prefix."""
        return self.source.split(":", 1)[1] if self.source_type in ("package", "hf") else self.source

    @property
    def repo_id(self) -> str | None:
        return self.location if self.source_type == "hf" else None

    @property
    def pinned(self) -> bool:
        """False for a hub entry whose revision is a branch or tag rather than a commit hash."""
        return self.source_type != "hf" or bool(self.revision and _COMMIT_RE.match(self.revision))

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"name": self.name, "kind": self.kind, "source": self.source}
        if self.source_type == "hf":
            d["revision"] = self.revision
            d["pinned"] = self.pinned
        d["default"] = self.default
        for key in ("pair", "tokenizer", "architecture", "license", "url"):
            if getattr(self, key) is not None:
                d[key] = getattr(self, key)
        d["description"] = self.description
        d["training"] = list(self.training)
        d["files"] = dict(self.files)
        d["metrics"] = dict(self.metrics)
        if self.extra:
            d["extra"] = dict(self.extra)
        return d


@dataclass(frozen=True)
class ResolvedModel:
    """A model ready to load: a local directory whose files were checked."""

    name: str  # registry name, or the directory as given
    kind: str
    path: Path
    sha256: str  # combined digest (see `combined_digest`), for provenance
    status: str  # 'ok' or 'unverified: ...'
    spec: ModelSpec | None = None

    @property
    def verified(self) -> bool:
        return self.status == "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "path": str(self.path),
            "sha256": self.sha256,
            "status": self.status,
            "source": self.spec.source if self.spec else str(self.path),
            "revision": self.spec.revision if self.spec else None,
        }


# ---------------------------------------------------------------- digests

_DIGEST_CACHE: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike, chunk_size: int = 1 << 20) -> str:
    """sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            h.update(chunk)
    return h.hexdigest()


def _cached_sha256(path: Path) -> str:
    """file_sha256, remembered per process by (real path, size, mtime)."""
    real = os.path.realpath(path)
    st = os.stat(real)
    key = (real, st.st_size, st.st_mtime_ns)
    digest = _DIGEST_CACHE.get(key)
    if digest is None:
        digest = _DIGEST_CACHE[key] = file_sha256(real)
    return digest


def _list_files(directory: Path) -> list[str]:
    """Relative POSIX paths of the regular files under `directory`, hidden files and folders skipped."""
    out = []
    for root, dirs, files in os.walk(directory, followlinks=True):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for f in files:
            if f.startswith("."):
                continue
            p = Path(root, f)
            if p.is_file():
                out.append(p.relative_to(directory).as_posix())
    return sorted(out)


def directory_digests(directory: str | os.PathLike) -> dict[str, str]:
    """{relative path: sha256} for every (non-hidden) file of a model directory."""
    d = Path(directory)
    return {rel: _cached_sha256(d / rel) for rel in _list_files(d)}


def combined_digest(digests: Mapping[str, str]) -> str:
    """One sha256 for a set of files: sha256 of the `sha256sum`-style lines "DIGEST  PATH\\n",
    sorted by path. The same files give the same digest whether the model came from the registry
    or from a directory."""
    text = "".join(f"{digests[rel]}  {rel}\n" for rel in sorted(digests))
    return hashlib.sha256(text.encode()).hexdigest()


# ---------------------------------------------------------------- registry file


def _bundled_registry() -> Path:
    p = resources.files("genannot.models").joinpath("models.toml")
    if not isinstance(p, Path):  # e.g. zip import: not supported
        raise ModelError("genannot's bundled models.toml is not on the file system (zip install?)")
    return p


def registry_path(registry: str | os.PathLike | None = None) -> Path:
    """The registry file in use: the argument, else $GENANNOT_MODELS_TOML, else the bundled one."""
    if registry is not None:
        return Path(registry).expanduser()
    env = os.environ.get(ENV_REGISTRY)
    if env:
        return Path(env).expanduser()
    return _bundled_registry()


def weights_root(registry: str | os.PathLike | None = None) -> Path:
    """Folder that `package:` sources are relative to: `weights/` beside the registry file."""
    return registry_path(registry).parent / "weights"


_REGISTRY_CACHE: dict[tuple[str, int, int], dict[str, ModelSpec]] = {}


def load_registry(registry: str | os.PathLike | None = None) -> dict[str, ModelSpec]:
    """Parse and validate a registry file: {name: ModelSpec} in file order."""
    path = registry_path(registry)
    try:
        st = path.stat()
        key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    except OSError:
        raise ModelError(f"model registry {path} not found") from None
    if key in _REGISTRY_CACHE:
        return _REGISTRY_CACHE[key]
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as e:
        raise ModelError(f"model registry {path}: invalid TOML: {e}") from None
    except OSError as e:
        raise ModelError(f"model registry {path}: {e.strerror or e}") from None
    specs = _parse(data, path)
    _REGISTRY_CACHE[key] = specs
    return specs


def _parse(data: dict[str, Any], path: Path) -> dict[str, ModelSpec]:
    def bad(msg: str) -> ModelError:
        return ModelError(f"model registry {path}: {msg}")

    unknown_top = set(data) - {"models"}
    if unknown_top:
        raise bad(f"unknown top-level table(s) {', '.join(sorted(unknown_top))}; entries go under [models.NAME]")
    models = data.get("models", {})
    if not isinstance(models, dict):
        raise bad("'models' must be a table of [models.NAME] tables")

    specs: dict[str, ModelSpec] = {}
    for name, entry in models.items():
        where = f"[models.{name}]"
        if not _NAME_RE.match(name):
            raise bad(f"{where}: invalid name (letters, digits, '.', '_', '-')")
        if not isinstance(entry, dict):
            raise bad(f"{where}: must be a table")
        unknown = set(entry) - set(_FIELDS)
        if unknown:
            raise bad(f"{where}: unknown key(s) {', '.join(sorted(unknown))} (free-form data goes in [models.{name}.extra])")
        for key, (typ, required) in _FIELDS.items():
            if key not in entry:
                if required:
                    raise bad(f"{where}: missing '{key}'")
                continue
            if not isinstance(entry[key], typ):
                raise bad(f"{where}: '{key}' has the wrong type ({type(entry[key]).__name__})")

        kind = entry["kind"]
        if kind not in KINDS:
            raise bad(f"{where}: kind '{kind}' is not one of {', '.join(KINDS)}")
        source = entry["source"]
        revision = entry.get("revision")
        if source.startswith("hf:"):
            if not _REPO_RE.match(source[3:]):
                raise bad(f"{where}: '{source}' is not a Hugging Face repo id (hf:ORG/NAME)")
            if not revision:
                raise bad(f"{where}: hub entries need a 'revision' (a commit hash, or a tag/branch)")
        else:
            if revision is not None:
                raise bad(f"{where}: 'revision' only applies to hf: sources")
            if source.startswith("package:"):
                sub = source[len("package:"):]
                if not sub or Path(sub).is_absolute() or ".." in Path(sub).parts:
                    raise bad(f"{where}: '{source}' must name a folder inside the weights directory")
            elif not source:
                raise bad(f"{where}: empty 'source'")

        files = entry.get("files", {})
        for rel, digest in files.items():
            if not isinstance(digest, str) or not _SHA_RE.match(digest):
                raise bad(f"{where}: files.\"{rel}\" is not a lowercase sha256 hex digest")
            if Path(rel).is_absolute() or ".." in Path(rel).parts or "\\" in rel:
                raise bad(f"{where}: files.\"{rel}\" must be a relative path inside the model directory")
        if source.startswith("package:") and not files:
            raise bad(f"{where}: packaged models must list the sha256 of their files in [models.{name}.files]")

        training = entry.get("training", [])
        if not all(isinstance(t, str) for t in training):
            raise bad(f"{where}: 'training' must be a list of strings")
        pair = entry.get("pair")
        if pair is not None and kind != "prok-cds":
            raise bad(f"{where}: 'pair' only applies to prok-cds models")

        specs[name] = ModelSpec(
            name=name,
            kind=kind,
            source=source,
            revision=revision,
            default=entry.get("default", False),
            pair=pair,
            tokenizer=entry.get("tokenizer"),
            description=entry.get("description", ""),
            architecture=entry.get("architecture"),
            license=entry.get("license"),
            url=entry.get("url"),
            training=tuple(training),
            files=dict(files),
            metrics=dict(entry.get("metrics", {})),
            extra=dict(entry.get("extra", {})),
            registry_path=path,
        )

    # cross-entry checks
    for spec in specs.values():
        if spec.pair is not None:
            other = specs.get(spec.pair)
            if other is None or other.kind != "prok-tis":
                raise bad(f"[models.{spec.name}]: pair '{spec.pair}' is not a prok-tis model in this registry")
    for kind in KINDS:
        defaults = [s.name for s in specs.values() if s.kind == kind and s.default]
        if len(defaults) > 1:
            raise bad(f"more than one default {kind} model: {', '.join(defaults)}")
    return specs


# ---------------------------------------------------------------- queries


def list_models(kind: str | None = None, registry: str | os.PathLike | None = None) -> list[ModelSpec]:
    """Registered models, in file order, optionally of one kind."""
    return [s for s in load_registry(registry).values() if kind is None or s.kind == kind]


def get_spec(name: str, registry: str | os.PathLike | None = None) -> ModelSpec:
    specs = load_registry(registry)
    if name not in specs:
        raise ModelError(f"unknown model '{name}'; registered: {', '.join(specs) or 'none'}")
    return specs[name]


def default_spec(kind: str, registry: str | os.PathLike | None = None) -> ModelSpec:
    _check_kind(kind)
    for s in load_registry(registry).values():
        if s.kind == kind and s.default:
            return s
    raise ModelError(f"no default {kind} model is registered in {registry_path(registry)}; give a model name or directory")


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown model kind {kind!r}; expected one of {KINDS}")


# ---------------------------------------------------------------- locating files


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, read from the environment at call time (HF_HUB_CACHE,
    HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub, ~/.cache/huggingface/hub)."""
    env = os.environ
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if env.get(var):
            return Path(os.path.expandvars(env[var])).expanduser()
    if env.get("HF_HOME"):
        return Path(os.path.expandvars(env["HF_HOME"])).expanduser() / "hub"
    xdg = env.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(xdg).expanduser() / "huggingface" / "hub"


def _hf_snapshot(repo_id: str, revision: str, cache: Path) -> Path | None:
    """Snapshot folder of repo_id@revision in a hub cache, or None (never touches the network)."""
    repo_dir = cache / ("models--" + repo_id.replace("/", "--"))
    if _COMMIT_RE.match(revision):
        commit = revision
    else:
        ref = repo_dir / "refs" / revision
        try:
            commit = ref.read_text().strip()
        except OSError:
            return None
    snap = repo_dir / "snapshots" / commit
    return snap if snap.is_dir() else None


class _NotDownloaded(ModelError):
    pass


def locate(spec: ModelSpec) -> Path:
    """The local directory holding a registered model's files (no verification)."""
    kind = spec.source_type
    if kind == "package":
        root = (spec.registry_path.parent if spec.registry_path else _bundled_registry().parent) / "weights"
        path = root / spec.location
        if not path.is_dir():
            raise ModelError(f"model {spec.name}: packaged weights folder {path} is missing (broken install?)")
        return path
    if kind == "hf":
        assert spec.repo_id and spec.revision
        snap = _hf_snapshot(spec.repo_id, spec.revision, hf_cache_dir())
        if snap is None:
            raise _NotDownloaded(
                f"model {spec.name} ({spec.repo_id}@{spec.revision}) is not downloaded; run `genannot models pull {spec.name}`"
            )
        return snap
    path = Path(os.path.expandvars(spec.location)).expanduser()
    if not path.is_absolute() and spec.registry_path is not None:
        path = spec.registry_path.parent / path
    if not path.is_dir():
        raise ModelError(f"model {spec.name}: directory {path} does not exist")
    return path


def _problems(spec: ModelSpec, path: Path) -> list[str]:
    """'missing: FILE' / 'mismatch: FILE' for each listed file that is absent or differs."""
    out = []
    for rel, want in spec.files.items():
        f = path / rel
        if not f.is_file():
            out.append(f"missing: {rel}")
        elif _cached_sha256(f) != want:
            out.append(f"mismatch: {rel}")
    return out


def _unverified_reason(spec: ModelSpec) -> str:
    parts = []
    if not spec.pinned:
        parts.append(f"unpinned revision {spec.revision}")
    parts.append("no digests recorded")
    return "unverified: " + ", ".join(parts)


def _check(spec: ModelSpec, path: Path) -> tuple[str, str]:
    """Verify a located model; return (status, combined sha256) or raise ModelError naming the file."""
    problems = _problems(spec, path)
    if problems:
        what, rel = problems[0].split(": ", 1)
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        if what == "missing":
            msg = f"model {spec.name}: file {rel} is missing from {path}{more}"
        else:
            msg = f"model {spec.name}: sha256 mismatch for {path / rel}: the file is corrupt or was changed{more}"
        hint = f"; run `genannot models pull {spec.name}`" if spec.source_type == "hf" else ""
        raise ModelError(msg + hint)
    if spec.files:
        return "ok", combined_digest({rel: spec.files[rel] for rel in spec.files})
    digests = directory_digests(path)
    if not digests:
        raise ModelError(f"model {spec.name}: {path} holds no files")
    return _unverified_reason(spec), combined_digest(digests)


# ---------------------------------------------------------------- resolution


def declared_kind(directory: str | os.PathLike) -> str | None:
    """The kind a model directory's config.json declares: `kind` (euk-seg models) or the `genannot`
    entry's task (prok classifiers: cds / tis). None without either (a published checkpoint such as
    GeneLM's, or no readable config.json: the loader reports that), so such directories still load."""
    try:
        cfg = json.loads((Path(directory) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(cfg, dict):
        return None
    if cfg.get("kind") in KINDS:
        return cfg["kind"]
    meta = cfg.get("genannot")
    task = meta.get("task") if isinstance(meta, dict) else None
    return f"prok-{task}" if f"prok-{task}" in KINDS else None


def _looks_like_path(model: str) -> bool:
    return "/" in model or os.sep in model or model.startswith((".", "~")) or model.endswith((".safetensors", ".pt", ".json"))


def resolve_model(
    model: str | os.PathLike | None, kind: str, *, registry: str | os.PathLike | None = None
) -> ResolvedModel:
    """`--model` value (directory, registry name or None for the default) -> verified ResolvedModel."""
    _check_kind(kind)
    if model is not None:
        text = os.fspath(model)
        p = Path(text).expanduser()
        if p.is_dir():
            digests = directory_digests(p)
            if not digests:
                raise ModelError(f"model directory {p} holds no files")
            declared = declared_kind(p)
            if declared not in (None, kind):
                raise ModelError(f"model {text} is a {declared} model, but a {kind} model is needed here")
            return ResolvedModel(
                name=text, kind=kind, path=p.resolve(), sha256=combined_digest(digests),
                status="unverified: not in the registry",
            )
        if p.exists():
            raise ModelError(f"model {text} is a file; a model is a directory (config.json, weights, tokenizer files)")
        specs = load_registry(registry)
        if text not in specs:
            if _looks_like_path(text):
                raise ModelError(f"model directory {text} does not exist")
            avail = [s.name for s in specs.values() if s.kind == kind]
            listing = f"available {kind} models: {', '.join(avail)}" if avail else f"no {kind} models are registered"
            raise ModelError(f"unknown model '{text}' ({listing}; or give a model directory)")
        spec = specs[text]
        if spec.kind != kind:
            raise ModelError(f"model {text} is a {spec.kind} model, but a {kind} model is needed here")
    else:
        spec = default_spec(kind, registry)
    path = locate(spec)
    status, digest = _check(spec, path)
    if status != "ok":
        log.warning("model %s: %s", spec.name, status)
    return ResolvedModel(name=spec.name, kind=kind, path=path, sha256=digest, status=status, spec=spec)


def resolve_pair(
    cds: str | os.PathLike | None = None,
    tis: str | os.PathLike | None = None,
    *,
    registry: str | os.PathLike | None = None,
) -> tuple[ResolvedModel, ResolvedModel]:
    """Coding and start-site models for `prok`: an explicit TIS model wins, else the CDS entry's
    `pair`, else the default prok-tis model."""
    cds_model = resolve_model(cds, "prok-cds", registry=registry)
    if tis is None and cds_model.spec is not None and cds_model.spec.pair:
        tis = cds_model.spec.pair
    return cds_model, resolve_model(tis, "prok-tis", registry=registry)


def verify_models(
    names: Sequence[str] | None = None, registry: str | os.PathLike | None = None
) -> list[tuple[str, str]]:
    """[(name, status)] with status 'ok' | 'not downloaded' | 'missing: FILE' | 'mismatch: FILE' |
    'unverified: ...'. Never raises for a bad model (unknown names do raise)."""
    specs = load_registry(registry)
    chosen = list(specs.values()) if not names else [get_spec(n, registry) for n in names]
    out = []
    for spec in chosen:
        try:
            path = locate(spec)
        except _NotDownloaded:
            out.append((spec.name, "not downloaded"))
            continue
        except ModelError:
            out.append((spec.name, f"missing: {spec.location}"))
            continue
        problems = _problems(spec, path)
        if problems:
            status = problems[0] + (f" (+{len(problems) - 1} more)" if len(problems) > 1 else "")
        elif spec.files:
            status = "ok"
        else:
            status = _unverified_reason(spec)
        out.append((spec.name, status))
    return out


# ---------------------------------------------------------------- network (pull only)


@contextlib.contextmanager
def _online() -> Iterator[None]:
    """Lift the HF offline switches for the duration of a download."""
    saved = {v: os.environ.get(v) for v in _OFFLINE_VARS}
    constants = sys.modules.get("huggingface_hub.constants")
    saved_flag = getattr(constants, "HF_HUB_OFFLINE", None)
    try:
        for v in _OFFLINE_VARS:
            os.environ[v] = "0"
        if constants is not None:
            constants.HF_HUB_OFFLINE = False
        yield
    finally:
        for v, val in saved.items():
            if val is None:
                os.environ.pop(v, None)
            else:
                os.environ[v] = val
        if constants is not None:
            constants.HF_HUB_OFFLINE = saved_flag


def _one_line(exc: BaseException) -> str:
    """A short reason for a failed download, without huggingface_hub's multi-line advice."""
    names = {c.__name__ for c in type(exc).__mro__}
    detail = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), type(exc).__name__)
    detail = detail.removeprefix("Got: ")
    if len(detail) > 200:
        detail = detail[:197] + "..."
    if "RepositoryNotFoundError" in names or "GatedRepoError" in names:
        return "repository not found, private or gated"
    if "RevisionNotFoundError" in names:
        return "revision not found in the repository"
    if "LocalEntryNotFoundError" in names or "ConnectError" in detail or "Connection" in detail:
        return f"the Hugging Face Hub cannot be reached ({detail})"
    return detail


def pull_model(name: str, cache_dir: str | os.PathLike | None = None, registry: str | os.PathLike | None = None) -> Path:
    """Download a hub model at its pinned revision (the only network access in genannot) and
    verify it; for packaged/local models just verify. Returns the model directory."""
    spec = get_spec(name, registry)
    if spec.source_type != "hf":
        path = locate(spec)
        _check(spec, path)
        return path
    try:
        from huggingface_hub import snapshot_download
    except ImportError:  # pragma: no cover - a declared dependency
        raise ModelError("huggingface_hub is not installed: cannot download models") from None
    cache = Path(cache_dir).expanduser() if cache_dir is not None else hf_cache_dir()
    log.info("downloading %s@%s into %s", spec.repo_id, spec.revision, cache)
    with _online():
        try:
            snap = snapshot_download(
                spec.repo_id,
                revision=spec.revision,
                cache_dir=str(cache),
                endpoint=os.environ.get("HF_ENDPOINT") or None,  # read now, not at hub import
                allow_patterns=sorted(spec.files) or None,  # only the recorded files, when known
            )
        except KeyboardInterrupt:
            raise
        except Exception as e:
            raise NetworkError(f"could not download {spec.name} ({spec.repo_id}@{spec.revision}): {_one_line(e)}") from None
    path = Path(snap)
    status, _ = _check(spec, path)
    if status != "ok":
        log.warning("model %s: %s", spec.name, status)
    if cache_dir is not None and cache.resolve() != hf_cache_dir().resolve():
        log.warning("downloaded into %s: set HF_HUB_CACHE=%s so that genannot finds it", cache, cache)
    return path


# ---------------------------------------------------------------- writing entries


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _toml_key(k: str) -> str:
    return k if re.fullmatch(r"[A-Za-z0-9_-]+", k) else _toml_value(k)


def entry_toml(
    name: str, kind: str, source: str, directory: str | os.PathLike | None = None, **fields: Any
) -> str:
    """Text of a `[models.NAME]` table to append to models.toml.

    With `directory` (the model folder), a [models.NAME.files] table lists the sha256 of each of its
    files. Other keyword arguments are models.toml keys (default, pair, tokenizer, training, ...);
    `metrics` / `extra` dicts become sub-tables (nested dicts become [models.NAME.metrics.SUB])."""
    _check_kind(kind)
    metrics = fields.pop("metrics", None) or {}
    extra = fields.pop("extra", None) or {}
    lines = [f"[models.{_toml_key(name)}]", f"kind = {_toml_value(kind)}", f"source = {_toml_value(source)}"]
    for k, v in fields.items():
        if k not in _FIELDS:
            raise ValueError(f"unknown models.toml key {k!r}")
        if v is not None:
            lines.append(f"{k} = {_toml_value(v)}")
    if directory is not None:
        lines += ["", f"[models.{_toml_key(name)}.files]"]
        lines += [f"{_toml_value(rel)} = {_toml_value(d)}" for rel, d in directory_digests(directory).items()]
    for table, content in (("metrics", metrics), ("extra", extra)):
        scalars = {k: v for k, v in content.items() if not isinstance(v, dict)}
        if scalars:
            lines += ["", f"[models.{_toml_key(name)}.{table}]"] + [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in scalars.items()]
        for sub, vals in content.items():
            if isinstance(vals, dict):
                lines += ["", f"[models.{_toml_key(name)}.{table}.{_toml_key(sub)}]"]
                lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in vals.items()]
    return "\n".join(lines) + "\n"
