"""Which device this worker trains on, and how much memory it has."""

from __future__ import annotations

import psutil
import torch


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
        "name": f"CPU ({psutil.cpu_count()} cores)",
        "memory_bytes": psutil.virtual_memory().total,
        "bf16": False,
    }
