"""The base-model registry: register local Hugging Face folders, list them, resolve what a job starts from."""

from __future__ import annotations

import json
import struct
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend import storage
from backend.config import Settings
from backend.models.registry import BaseModel, ModelSource
from backend.schemas.models import ModelRead
from backend.services.errors import Conflict, Invalid, NotFound


def read_model_folder(path: Path) -> tuple[dict, int | None]:
    """Read config.json and count parameters from the safetensors headers (no torch, no weights loaded)."""
    if not path.is_dir():
        raise Invalid(f"model folder not found: {path}", details={"field": "path", "value": str(path)})
    config_file = path / "config.json"
    if not config_file.is_file():
        raise Invalid(
            f"{path} is not a Hugging Face model folder: it has no config.json",
            details={"field": "path", "value": str(path)},
        )
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise Invalid(f"{config_file} is not valid JSON: {exc}", details={"field": "path"}) from exc
    if config.get("auto_map"):
        # Custom code would need trust_remote_code, which Afina never enables.
        raise Invalid(
            f"{path} needs custom model code (auto_map in config.json); Afina runs only built-in "
            "transformers architectures",
            details={"field": "path", "value": str(path)},
        )
    return config, _count_parameters(path)


def _count_parameters(path: Path) -> int | None:
    total = 0
    files = sorted(path.glob("*.safetensors"))
    for file in files:
        with file.open("rb") as fh:
            (header_len,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(header_len))
        for name, meta in header.items():
            if name != "__metadata__":
                count = 1
                for dim in meta["shape"]:
                    count *= dim
                total += count
    return total or None


def register_model(
    session: Session,
    name: str,
    path: Path,
    *,
    settings: Settings,
    source: ModelSource = ModelSource.local,
    parent_model_id: int | None = None,
    job_id: int | None = None,
    is_adapter: bool = False,
) -> BaseModel:
    if session.scalar(select(BaseModel).where(BaseModel.name == name)):
        raise Conflict(f"a model named '{name}' is already registered", code="model_exists")
    path = Path(path).resolve()
    if is_adapter:
        if not (path / "adapter_config.json").is_file():
            raise Invalid(f"{path} has no adapter_config.json", details={"field": "path"})
        config, params = json.loads((path / "adapter_config.json").read_text()), _count_parameters(path)
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


def get_model(session: Session, model_id: int) -> BaseModel:
    model = session.get(BaseModel, model_id)
    if model is None:
        raise NotFound(f"model {model_id} not found", details={"field": "model_id", "value": model_id})
    return model


def list_models(session: Session) -> list[BaseModel]:
    return list(session.scalars(select(BaseModel).order_by(BaseModel.id)))


def root_model(session: Session, model: BaseModel) -> BaseModel:
    """The full model an adapter ultimately sits on."""
    while model.is_adapter and model.parent_model_id:
        model = get_model(session, model.parent_model_id)
    return model
