"""Which numeric precision a run trains in: `auto` decided by what the device can really do, with the reason.

The decision (`choose_precision`) is pure: it takes the device kind and whether bf16 is native there, so tests
can say both. The probes (`cpu_bf16_support`, `cuda_bf16_support`) look at the hardware: on CPU the
instruction-set flags the kernel reports (AVX512-BF16 or AMX-BF16 mean oneDNN runs bf16 matmuls natively;
without them bf16 is emulated and slower than fp32), on CUDA `torch.cuda.is_bf16_supported()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

FP16_ON_CPU = (
    "precision fp16 is not available on CPU (no fp16 autocast with loss scaling there): "
    "choose auto, bf16 or fp32"
)
#: CPU feature flags (as /proc/cpuinfo names them) that mean native bf16 dot products
NATIVE_BF16_FLAGS = ("amx_bf16", "avx512_bf16")


@dataclass(frozen=True)
class PrecisionChoice:
    precision: str  # fp32, bf16 or fp16: what TrainingArguments is told (bf16/fp16 = mixed precision)
    reason: str  # one sentence for the job's events

    def event(self, requested: str, device: str) -> str:
        label = {"bf16": "bf16 mixed precision", "fp16": "fp16 mixed precision with loss scaling"}
        return (
            f"Precision {label.get(self.precision, 'fp32')} on {device} (asked: {requested}): {self.reason}"
        )


def _cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> set[str]:
    try:
        text = cpuinfo.read_text()
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def cpu_bf16_support() -> tuple[bool, str]:
    """Whether this CPU multiplies bf16 natively, and what says so."""
    capability = torch.backends.cpu.get_cpu_capability()
    native = [flag for flag in NATIVE_BF16_FLAGS if flag in _cpu_flags()]
    if native:
        return True, f"the CPU has native bf16 ({', '.join(native)}; torch kernels {capability})"
    return False, f"the CPU has no native bf16 instructions (torch kernels {capability})"


def cuda_bf16_support() -> tuple[bool, str]:
    name = torch.cuda.get_device_name()
    if torch.cuda.is_bf16_supported():
        return True, f"the GPU ({name}) supports bf16"
    return False, f"the GPU ({name}) has no bf16"


def choose_precision(requested: str, device: str, *, bf16_native: bool, why: str) -> PrecisionChoice:
    """The precision a run uses on `device` ("cpu" or "cuda"), given whether bf16 is native there and why.

    auto: bf16 where native; on a GPU without it fp16 with loss scaling; fp32 on such a CPU. An explicit bf16
    is honoured (with a warning-worthy reason when emulated); fp16 on CPU is refused (ValueError).
    """
    if requested == "fp16" and device == "cpu":
        raise ValueError(FP16_ON_CPU)
    if requested == "auto":
        if bf16_native:
            return PrecisionChoice("bf16", f"auto chose bf16 because {why}")
        if device == "cpu":
            return PrecisionChoice("fp32", f"auto chose fp32 because {why}")
        return PrecisionChoice("fp16", f"auto chose fp16 with loss scaling because {why}")
    if requested == "bf16" and not bf16_native:
        return PrecisionChoice(
            "bf16", f"bf16 as asked, but {why}: it is emulated and may be slower than fp32"
        )
    return PrecisionChoice(requested, f"{requested} as asked ({why})")


def resolve_precision(requested: str, device: str | None = None) -> PrecisionChoice:
    """choose_precision for this process's device (CUDA when available, else CPU), probing the hardware."""
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    native, why = cuda_bf16_support() if device == "cuda" else cpu_bf16_support()
    return choose_precision(requested, device, bf16_native=native, why=why)
