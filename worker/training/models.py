"""Load a local model folder and make the chosen weights trainable (full, LoRA, DoRA, QLoRA, prompt)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from peft import (
    LoraConfig,
    PeftModel,
    PromptTuningConfig,
    PromptTuningInit,
    TaskType,
    get_peft_model,
    prepare_model_for_kbit_training,
)
from transformers import (
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BitsAndBytesConfig,
)

from backend.schemas.job_specs import AdapterSpec, MethodSpec
from worker.training.precision import resolve_precision

QLORA_ON_CPU = "QLoRA needs a CUDA GPU (bitsandbytes 4-bit); this worker has none — choose lora"

#: attention projections by naming family; the default LoRA targets are those the model actually has
ATTENTION_MODULES = (
    "q_proj",
    "k_proj",
    "v_proj",
    "o_proj",
    "query",
    "key",
    "value",
    "c_attn",
    "qkv_proj",
    "query_key_value",
    "Wqkv",
)
_AUTO_CLASSES = {"causal_lm": AutoModelForCausalLM, "seq_cls": AutoModelForSequenceClassification}
_TASK_TYPES = {"causal_lm": TaskType.CAUSAL_LM, "seq_cls": TaskType.SEQ_CLS}
_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class LoadedModel:
    model: torch.nn.Module
    tokenizer: object
    precision: str  # fp32, bf16 or fp16: what TrainingArguments is told
    precision_reason: str  # why: "auto chose bf16 because the CPU has native bf16 (...)", for the events
    adapter: str  # none, lora, dora, qlora, prompt_tuning
    #: the folder the full weights were loaded from: the base under an adapter, else the loaded folder itself
    #: (a checkpoint, for a resumed run loaded from one): not necessarily the model a run started from
    weights_path: str


def device_kind() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def is_adapter_dir(path: str | Path) -> bool:
    return (Path(path) / "adapter_config.json").is_file()


def adapter_base_path(path: str | Path) -> str:
    """The base model folder an adapter was trained on (must be local: no hub at run time)."""
    base = json.loads((Path(path) / "adapter_config.json").read_text())["base_model_name_or_path"]
    if not base or not Path(base).is_dir():
        raise ValueError(f"adapter at {path} names base model '{base}', which is not a local folder")
    return base


def weights_folder(model_path: str | Path) -> str:
    """The folder holding a model's full weights: an adapter's base, or the model folder itself."""
    return adapter_base_path(model_path) if is_adapter_dir(model_path) else str(model_path)


def default_target_modules(model: torch.nn.Module) -> list[str] | str:
    """Every attention projection the model has; 'all-linear' when it uses names we do not know."""
    leaves = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) or type(module).__name__ == "Conv1D"
    }
    found = [m for m in ATTENTION_MODULES if m in leaves]
    return found or "all-linear"


def load_tokenizer(path: str | Path, fallback: str | Path | None = None):
    source = path if (Path(path) / "tokenizer_config.json").is_file() or fallback is None else fallback
    tokenizer = AutoTokenizer.from_pretrained(source)
    if tokenizer.pad_token is None:  # padding is needed by every collator; EOS is the usual stand-in
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def _load_weights(path: str, task: str, dtype: torch.dtype, quantization=None, num_labels: int = 1):
    kwargs = {"dtype": dtype}
    if quantization is not None:
        kwargs.update(quantization_config=quantization, device_map={"": 0})
    if task == "seq_cls":
        kwargs["num_labels"] = num_labels
    return _AUTO_CLASSES[task].from_pretrained(path, **kwargs)


def _peft_config(adapter: AdapterSpec, model, task: str, tokenizer_path: str):
    kind = adapter.type
    if kind == "prompt_tuning":
        text = adapter.prompt_tuning_init_text
        return PromptTuningConfig(
            task_type=_TASK_TYPES[task],
            num_virtual_tokens=adapter.num_virtual_tokens,
            prompt_tuning_init=PromptTuningInit.TEXT if text else PromptTuningInit.RANDOM,
            prompt_tuning_init_text=text,
            tokenizer_name_or_path=tokenizer_path if text else None,
        )
    return LoraConfig(
        task_type=_TASK_TYPES[task],
        r=adapter.r,
        lora_alpha=adapter.alpha,  # the spec fills the default (2 x r)
        lora_dropout=adapter.dropout,
        target_modules=adapter.target_modules or default_target_modules(model),
        use_dora=kind == "dora",
        use_rslora=adapter.use_rslora,
    )


def _quantization(adapter: AdapterSpec, compute_dtype: torch.dtype):
    if device_kind() != "cuda":
        raise ValueError(QLORA_ON_CPU)

    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_compute_dtype=compute_dtype,
        bnb_4bit_use_double_quant=adapter.double_quantization,
    )


def load_for_training(model_path: str | Path, spec: MethodSpec, *, task: str = "causal_lm") -> LoadedModel:
    """Load a local model folder (full model or a previous job's adapter) ready to train as the spec says.

    An adapter folder continues training that adapter on the base it names; a full folder gets a fresh adapter
    (or none for full fine-tuning).
    """
    model_path = str(model_path)
    adapter, training = spec.adapter, spec.training
    if adapter.type == "qlora" and device_kind() != "cuda":
        raise ValueError(QLORA_ON_CPU)
    choice = resolve_precision(training.precision, device_kind())
    precision, why = choice.precision, choice.event(training.precision, device_kind())
    # full fine-tuning keeps fp32 master weights under mixed precision (updates of ~1e-5 vanish in a half
    # type); adapters train in fp32 (PEFT upcasts them) over a half base, which autocast reads as it is
    weights_dtype = torch.float32 if adapter.type == "none" else _DTYPES[precision]
    continuing = is_adapter_dir(model_path)
    weights_path = weights_folder(model_path)
    tokenizer = load_tokenizer(model_path, fallback=weights_path)
    quant = _quantization(adapter, _DTYPES[precision]) if adapter.type == "qlora" else None
    model = _load_weights(weights_path, task, weights_dtype, quant)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id  # sequence classifiers find the last token by it
    if quant is not None:
        model = prepare_model_for_kbit_training(
            model, use_gradient_checkpointing=training.gradient_checkpointing
        )
    if continuing:
        model = PeftModel.from_pretrained(model, model_path, is_trainable=True)
        if adapter.type == "none":  # full fine-tuning from an adapter job: fold it into the weights first
            model = model.merge_and_unload()
        kind = (
            adapter.type if adapter.type == "none" else model.peft_config["default"].peft_type.value.lower()
        )
        return LoadedModel(model, tokenizer, precision, why, kind, weights_path)
    if adapter.type != "none":
        model = get_peft_model(model, _peft_config(adapter, model, task, weights_path))
    return LoadedModel(model, tokenizer, precision, why, adapter.type, weights_path)


def load_reference(
    path: str | Path, *, task: str = "causal_lm", dtype: torch.dtype = torch.float32, num_labels: int = 1
):
    """A frozen copy of a model folder (adapter folders are merged onto their base), for KL references;
    sequence classifiers with `num_labels` classes."""
    path = str(path)
    if is_adapter_dir(path):
        base = _load_weights(adapter_base_path(path), task, dtype, num_labels=num_labels)
        model = PeftModel.from_pretrained(base, path).merge_and_unload()
    else:
        model = _load_weights(path, task, dtype, num_labels=num_labels)
    return model.eval().requires_grad_(False)


def merge_adapter(adapter_dir: str | Path, dest: str | Path) -> Path:
    """Fold a LoRA/DoRA adapter into its base and save a full model folder with the tokenizer."""
    dest = Path(dest)
    model = load_reference(adapter_dir)
    model.save_pretrained(dest)
    load_tokenizer(adapter_dir, fallback=adapter_base_path(adapter_dir)).save_pretrained(dest)
    return dest
