"""Generation with a model cache: one base model stays loaded and serves its adapters by switching."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.generation.streamers import BaseStreamer

from worker.training.data import render


@dataclass
class _Loaded:
    model: PreTrainedModel | PeftModel
    tokenizer: PreTrainedTokenizerBase
    adapters: dict[str, str] = field(default_factory=dict)  # adapter path -> adapter name


class FirstTokenClock(BaseStreamer):
    """A streamer that only notes when generate() emits its first new token (its first put is the prompt)."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.first: float | None = None
        self._puts = 0

    def put(self, value) -> None:
        self._puts += 1
        if self._puts == 2 and self.first is None:
            self.first = time.perf_counter()

    def end(self) -> None:
        pass

    def timings(self, new_tokens: int) -> dict[str, float]:
        seconds = time.perf_counter() - self.start
        out = {"tokens_per_s": round(new_tokens / seconds, 2) if seconds > 0 else 0.0}
        if self.first is not None:
            out["time_to_first_token_s"] = round(self.first - self.start, 4)
        return out


class GenerationEngine:
    """Keeps up to `max_bases` base models in memory (least recently used is dropped)."""

    def __init__(self, device: str = "cpu", max_bases: int = 2) -> None:
        self.device = device
        self.max_bases = max_bases
        self._bases: OrderedDict[str, _Loaded] = OrderedDict()
        self._lock = threading.Lock()

    def _base(self, path: str) -> _Loaded:
        if path in self._bases:
            self._bases.move_to_end(path)
            return self._bases[path]
        dtype = torch.bfloat16 if self.device.startswith("cuda") else torch.float32
        model = AutoModelForCausalLM.from_pretrained(path, dtype=dtype).to(self.device).eval()
        loaded = _Loaded(model=model, tokenizer=AutoTokenizer.from_pretrained(path))
        self._bases[path] = loaded
        while len(self._bases) > self.max_bases:
            self._bases.popitem(last=False)
            if self.device.startswith("cuda"):
                torch.cuda.empty_cache()
        return loaded

    def _adapter(self, loaded: _Loaded, adapter_path: str) -> str:
        name = loaded.adapters.get(adapter_path)
        if name is None:
            name = f"a{len(loaded.adapters)}"
            if isinstance(loaded.model, PeftModel):
                loaded.model.load_adapter(adapter_path, adapter_name=name)
            else:
                loaded.model = PeftModel.from_pretrained(loaded.model, adapter_path, adapter_name=name).eval()
            loaded.adapters[adapter_path] = name
        return name

    @contextmanager
    def use(self, model: dict) -> Iterator[tuple[PreTrainedModel | PeftModel, PreTrainedTokenizerBase]]:
        """Hold the engine for one registry model: its network (the adapter set, or adapters off for a base)
        and tokenizer, for callers that drive generation themselves (chat completions)."""
        with self._lock:
            loaded = self._base(model["base_path"] if model["is_adapter"] else model["path"])
            adapter = self._adapter(loaded, model["path"]) if model["is_adapter"] else None
            net = loaded.model
            if adapter is not None:
                net.set_adapter(adapter)
                yield net, loaded.tokenizer
            elif isinstance(net, PeftModel):
                with net.disable_adapter():
                    yield net, loaded.tokenizer
            else:
                yield net, loaded.tokenizer

    @torch.inference_mode()
    def generate(self, model: dict, messages: list[dict], params: dict, chat_template: str = "model") -> dict:
        """Answer `messages` with one registry model (a base, a full model, or an adapter on its base)."""
        with self._lock:
            loaded = self._base(model["base_path"] if model["is_adapter"] else model["path"])
            tokenizer = loaded.tokenizer
            prompt = render(messages, tokenizer, chat_template, add_generation_prompt=True)
            inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False).to(self.device)
            kwargs = {
                "max_new_tokens": params["max_new_tokens"],
                "do_sample": params["do_sample"],
                "repetition_penalty": params.get("repetition_penalty", 1.0),
                "pad_token_id": tokenizer.pad_token_id
                if tokenizer.pad_token_id is not None
                else tokenizer.eos_token_id,
            }
            if params["do_sample"]:
                kwargs.update(temperature=params["temperature"], top_k=params["top_k"], top_p=params["top_p"])
            if params.get("seed") is not None:
                torch.manual_seed(params["seed"])
            adapter = self._adapter(loaded, model["path"]) if model["is_adapter"] else None
            net = loaded.model  # after _adapter: loading the first adapter wraps the base in a PeftModel
            clock = FirstTokenClock()
            kwargs["streamer"] = clock
            if adapter is not None:
                net.set_adapter(adapter)
                output = net.generate(**inputs, **kwargs)
            elif isinstance(net, PeftModel):
                with net.disable_adapter():
                    output = net.generate(**inputs, **kwargs)
            else:
                output = net.generate(**inputs, **kwargs)
            new_tokens = output[0, inputs["input_ids"].shape[1] :]
            return {
                "model_id": model["id"],
                "name": model["name"],
                "text": tokenizer.decode(new_tokens, skip_special_tokens=True).strip(),
                "new_tokens": int(new_tokens.shape[0]),
                **clock.timings(int(new_tokens.shape[0])),
            }
