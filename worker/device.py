"""Which device this worker trains on, how much memory it has, and its measured peak matmul throughput."""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import time
from pathlib import Path

import psutil
import torch

from worker.training.precision import cpu_bf16_support

log = logging.getLogger(__name__)
#: square matmul sizes timed for the peak: big enough to run at full speed, small enough for a few seconds
PEAK_SIZE = {"cpu": 2048, "cuda": 8192}
PEAK_DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def detect_device(preference: str = "auto") -> dict:
    if preference.startswith("cuda") or (preference == "auto" and torch.cuda.is_available()):
        index = int(preference.split(":")[1]) if ":" in preference else 0
        props = torch.cuda.get_device_properties(index)
        return {
            "device": f"cuda:{index}",
            "name": props.name,
            "memory_bytes": props.total_memory,
            "bf16": torch.cuda.is_bf16_supported(),
        }
    return {
        "device": "cpu",
        "name": f"{_cpu_model()} ({psutil.cpu_count()} cores)",
        "memory_bytes": psutil.virtual_memory().total,
        "bf16": cpu_bf16_support()[0],
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def _time_matmul(device: str, dtype: torch.dtype, size: int, seconds: float) -> float:
    """Best FLOP/s of repeated size x size matmuls over about `seconds`."""
    a = torch.randn(size, size, device=device).to(dtype)
    b = torch.randn(size, size, device=device).to(dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    torch.matmul(a, b)  # warm-up: kernel selection, caches
    sync()
    best, deadline = 0.0, time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        torch.matmul(a, b)
        sync()
        best = max(best, 2 * size**3 / (time.perf_counter() - start))
    return best


def measure_peak(device: str = "cpu", seconds: float = 1.5) -> dict[str, float]:
    """Peak matmul FLOP/s per precision: fp32 and bf16 (and fp16 on CUDA)."""
    kind = "cuda" if device.startswith("cuda") else "cpu"
    names = ("fp32", "bf16", "fp16") if kind == "cuda" else ("fp32", "bf16")
    return {name: _time_matmul(device, PEAK_DTYPES[name], PEAK_SIZE[kind], seconds) for name in names}


def _cache_key(device: str) -> str:
    name = torch.cuda.get_device_name(device) if device.startswith("cuda") else _cpu_model()
    text = f"{device}|{name}|torch {torch.__version__}|threads {torch.get_num_threads()}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def device_peak(home: Path, device: str = "cpu", *, seconds: float = 1.0) -> dict[str, float]:
    """The measured peak of this device, cached under home/cache/device_peak by device model, torch version
    and thread count: measured once (a few seconds) the first time a worker starts on this machine."""
    path = Path(home) / "cache" / "device_peak" / f"{_cache_key(device)}.json"
    try:
        return {k: float(v) for k, v in json.loads(path.read_text())["peak_flops"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        pass
    peak = measure_peak(device, seconds)
    log.info("measured peak matmul throughput of %s: %s", device, peak)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"device": device, "torch": torch.__version__, "threads": torch.get_num_threads()}
        path.write_text(json.dumps({**record, "peak_flops": peak}))
    except OSError:
        log.warning("could not cache the device peak at %s", path)
    return peak
