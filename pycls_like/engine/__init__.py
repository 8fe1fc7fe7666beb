"""Training engine: run configs, the train/eval loop, checkpoints, and `pycls-like train`.

`RunConfig` and `load_run_config` are torch-free; `train` imports torch on first use, so
sweeps can write and validate run configs without it.
"""

from typing import Any

from pycls_like.engine.config import RunConfig, load_run_config, run_config_from_dict

__all__ = ["RunConfig", "load_run_config", "run_config_from_dict", "train"]


def __getattr__(name: str) -> Any:
    if name == "train":
        from pycls_like.engine.trainer import train

        return train
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
