"""The base-model registry: register local Hugging Face folders, list them, resolve what a job starts from."""

from __future__ import annotations

import json
import re
import struct
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import storage
from backend.config import Settings
from backend.models.ownership import Visibility
from backend.models.registry import BaseModel, ModelSource
from backend.models.users import User
from backend.schemas.models import ModelRead
from backend.services import access
from backend.services.errors import Conflict, Invalid

# A job's output is registered as "<job name> (job <id>)" (", merged" for a merged copy): names of that shape
# are reserved for jobs, so nobody can register a model under the name a running job's output will take.
_JOB_OUTPUT_NAME = re.compile(r"\(job \d+(, merged)?\)\s*$")


def job_output_name(job_name: str, job_id: int, *, merged: bool = False) -> str:
    """The registry name of job `job_id`'s output: unique by construction (the suffix is the job's own id)."""
    return f"{job_name} (job {job_id}{', merged' if merged else ''})"


# The safetensors format caps its JSON header at 100 MB; a larger length is a corrupt or hostile file.
_MAX_SAFETENSORS_HEADER = 100 * 1024 * 1024


def _refuse(message: str, file: Path) -> Invalid:
    return Invalid(message, details={"field": "path", "file": str(file)}, code="bad_model_folder")


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except (OSError, ValueError):  # a name too long for the file system, a NUL byte
        return False


def read_model_folder(path: Path) -> tuple[dict, int | None]:
    """Read config.json and count parameters from the safetensors headers (no torch, no weights loaded).

    A folder that is not a usable model is refused with a 422 naming the file that is wrong."""
    if not _is_dir(path):
        raise Invalid(f"model folder not found: {path}", details={"field": "path", "value": str(path)})
    config_file = path / "config.json"
    if not config_file.is_file():
        raise Invalid(
            f"{path} is not a Hugging Face model folder: it has no config.json",
            details={"field": "path", "value": str(path)},
        )
    config = _read_json_object(config_file)
    if config.get("auto_map"):
        # Custom code would need trust_remote_code, which Afina never enables.
        raise Invalid(
            f"{path} needs custom model code (auto_map in config.json); Afina runs only built-in "
            "transformers architectures",
            details={"field": "path", "value": str(path)},
        )
    architectures = config.get("architectures")
    if architectures is not None and not (
        isinstance(architectures, list) and architectures and all(isinstance(a, str) for a in architectures)
    ):
        raise _refuse(f"{config_file}: 'architectures' must be a non-empty list of names", config_file)
    _check_sizes(config, config_file)
    return config, _count_parameters(path)


# Sizes the memory estimate reads from config.json (each may also sit in a "text_config" section).
_REQUIRED_SIZES = (("hidden_size", "n_embd", "d_model"), ("num_hidden_layers", "n_layer", "num_layers"))
_OPTIONAL_SIZES = (
    "vocab_size",
    "intermediate_size",
    "n_inner",
    "num_attention_heads",
    "n_head",
    "num_key_value_heads",
    "head_dim",
)


def _check_sizes(config: dict, config_file: Path) -> None:
    """Refuse a config.json whose sizes are missing or not positive integers, naming the key."""
    text = config.get("text_config") or {}
    if not isinstance(text, dict):
        raise _refuse(f"{config_file}: 'text_config' must be an object", config_file)
    merged = {**text, **{k: v for k, v in config.items() if v is not None}}
    for names in _REQUIRED_SIZES:
        if all(merged.get(name) is None for name in names):
            raise _refuse(f"{config_file} has none of {', '.join(names)}", config_file)
    for name in (*(n for names in _REQUIRED_SIZES for n in names), *_OPTIONAL_SIZES):
        value = merged.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise _refuse(
                f"{config_file}: '{name}' must be a positive integer, not {value!r:.40}", config_file
            )


def _read_json_object(file: Path) -> dict:
    try:
        value = json.loads(file.read_bytes())
    except (ValueError, RecursionError) as exc:  # not UTF-8, not JSON, or nested without bound
        raise _refuse(f"{file} is not valid JSON: {exc}", file) from exc
    except OSError as exc:
        raise _refuse(f"{file} cannot be read: {exc.strerror}", file) from exc
    if not isinstance(value, dict):
        raise _refuse(f"{file} must hold a JSON object, not {type(value).__name__}", file)
    return value


def _count_parameters(path: Path) -> int | None:
    total = 0
    for file in sorted(path.glob("*.safetensors")):
        total += _safetensors_parameters(file)
    return total or None


def _safetensors_parameters(file: Path) -> int:
    """Parameters in one safetensors file, after checking its header and that the file holds every tensor."""
    header, header_len, size = _safetensors_header(file)
    total, data_end = 0, 0
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        count, end = _tensor_entry(meta, name, file)
        total += count
        data_end = max(data_end, end)
    if 8 + header_len + data_end > size:
        described = 8 + header_len + data_end
        raise _refuse(
            f"{file} is truncated: the header describes {described} bytes, the file has {size}", file
        )
    return total


def _safetensors_header(file: Path) -> tuple[dict, int, int]:
    try:
        size = file.stat().st_size
        with file.open("rb") as fh:
            prefix = fh.read(8)
            if len(prefix) < 8:
                raise _refuse(f"{file} is truncated: shorter than a safetensors header", file)
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > min(_MAX_SAFETENSORS_HEADER, size - 8):
                raise _refuse(
                    f"{file} is truncated or corrupt: its header length {header_len} is impossible", file
                )
            header = json.loads(fh.read(header_len))
    except OSError as exc:
        raise _refuse(f"{file} cannot be read: {exc.strerror}", file) from exc
    except (ValueError, RecursionError) as exc:
        raise _refuse(f"{file} has a corrupt header: {exc}", file) from exc
    if not isinstance(header, dict):
        raise _refuse(f"{file} has a corrupt header: not a JSON object", file)
    return header, header_len, size


def _tensor_entry(meta, name: str, file: Path) -> tuple[int, int]:
    """(parameter count, end of the tensor's data) of one header entry; refuses a malformed one."""
    try:
        shape, (begin, end) = meta["shape"], meta["data_offsets"]
        if not all(isinstance(v, int) and v >= 0 for v in (*shape, begin, end)) or begin > end:
            raise ValueError(meta)
    except (KeyError, TypeError, ValueError) as exc:
        raise _refuse(f"{file}: tensor '{name[:100]}' has a malformed entry in the header", file) from exc
    count = 1
    for dim in shape:
        count *= dim
    return count, end


def register_model(session: Session, name: str, path: Path, *, settings: Settings, **kwargs) -> BaseModel:
    """Check a model folder and register it under `name` (see add_model); commits."""
    model = add_model(session, name, path, settings=settings, **kwargs)
    session.commit()
    return model


def add_model(
    session: Session,
    name: str,
    path: Path,
    *,
    settings: Settings,
    source: ModelSource = ModelSource.local,
    parent_model_id: int | None = None,
    job_id: int | None = None,
    is_adapter: bool = False,
    owner_id: int | None = None,
    visibility: Visibility = Visibility.shared,
) -> BaseModel:
    """Add a checked model folder to the session without committing (a job's output is registered in the
    same transaction that marks the job succeeded). Base models are shared by default; a job's output takes
    its job's owner and visibility (see worker.jobs.supervisor). Names ending in "(job N)" are kept for job
    outputs."""
    existing = session.scalar(select(BaseModel).where(BaseModel.name == name))
    if (
        existing is not None
        and source == ModelSource.job
        and job_id is not None
        and existing.job_id == job_id
    ):
        return existing  # the same job's output, registered by an earlier attempt
    if source != ModelSource.job and _JOB_OUTPUT_NAME.search(name):
        raise Invalid(
            f"model names ending in '(job N)' are reserved for the outputs of jobs; choose another name "
            f"than '{name}'",
            details={"field": "name", "value": name},
            code="reserved_name",
        )
    if existing is not None:
        raise Conflict(f"a model named '{name}' is already registered", code="model_exists")
    try:
        path = Path(path).resolve()
    except (OSError, ValueError) as exc:  # a NUL byte, a name longer than the file system allows
        raise Invalid(
            f"not a usable path: {exc}", details={"field": "path", "value": str(path)[:200]}
        ) from exc
    if is_adapter:
        if not (path / "adapter_config.json").is_file():
            raise Invalid(f"{path} has no adapter_config.json", details={"field": "path"})
        config, params = _read_json_object(path / "adapter_config.json"), _count_parameters(path)
    else:
        config, params = read_model_folder(path)
    model = BaseModel(
        name=name,
        source=source,
        path=storage.to_stored(settings, path),
        architecture=(config.get("architectures") or [config.get("peft_type")])[0],
        num_parameters=params,
        config=config,
        parent_model_id=parent_model_id,
        job_id=job_id,
        is_adapter=is_adapter,
        owner_id=owner_id,
        visibility=visibility,
    )
    session.add(model)
    session.flush()
    return model


def model_path(settings: Settings, model: BaseModel) -> Path:
    """The model's folder on this machine."""
    return storage.resolve(settings, model.path)


def model_read(settings: Settings, model: BaseModel) -> ModelRead:
    """The model as the API shows it: its folder as this server sees it (the database keeps it relative)."""
    return ModelRead.model_validate(model).model_copy(update={"path": str(model_path(settings, model))})


def get_model(
    session: Session, model_id: int, user: User | None = None, *, field: str = "model_id"
) -> BaseModel:
    """The model if `user` may see it (404 otherwise, as for a missing one); `user=None` is the system."""
    return access.get_visible(session, BaseModel, model_id, user, what="model", field=field)


def list_models(session: Session, user: User | None = None) -> list[BaseModel]:
    return list(session.scalars(access.visible_to(select(BaseModel), user, BaseModel).order_by(BaseModel.id)))


def set_visibility(session: Session, model_id: int, user: User, visibility: Visibility) -> BaseModel:
    """Share a model with the studio or make it private (its owner or an admin)."""
    model = access.get_changeable(session, BaseModel, model_id, user, what="model")
    access.set_visibility(session, model, visibility)
    session.commit()
    return model


def root_model(session: Session, model: BaseModel) -> BaseModel:
    """The full model an adapter ultimately sits on."""
    while model.is_adapter and model.parent_model_id:
        model = get_model(session, model.parent_model_id)
    return model
