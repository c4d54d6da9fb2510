# Type stubs of the compiled core (private: use the mxopt package).
from typing import Any, List

class LRScheduler:
    base_lr: float
    warmup_steps: int
    warmup_begin_lr: float
    warmup_final_lr: float
    warmup_mode: str
    def __init__(self, base_lr: float = ..., warmup_steps: int = ..., warmup_begin_lr: float = ...,
                 warmup_mode: str = ...) -> None: ...
    def __call__(self, num_update: int) -> float: ...
    def get_warmup_lr(self, num_update: int) -> float: ...

class FactorScheduler(LRScheduler):
    step: float
    factor: float
    stop_factor_lr: float
    count: float
    def __init__(self, step: float, factor: float = ..., stop_factor_lr: float = ...,
                 base_lr: float = ..., warmup_steps: int = ..., warmup_begin_lr: float = ...,
                 warmup_mode: str = ...) -> None: ...

class MultiFactorScheduler(LRScheduler):
    step: List[float]
    cur_step_ind: int
    factor: float
    count: float
    def __init__(self, step: List[float], factor: float = ..., base_lr: float = ...,
                 warmup_steps: int = ..., warmup_begin_lr: float = ...,
                 warmup_mode: str = ...) -> None: ...

class PolyScheduler(LRScheduler):
    power: float
    base_lr_orig: float
    max_update: int
    final_lr: float
    max_steps: int
    def __init__(self, max_update: int, base_lr: float = ..., pwr: float = ...,
                 final_lr: float = ..., warmup_steps: int = ..., warmup_begin_lr: float = ...,
                 warmup_mode: str = ...) -> None: ...

class CosineScheduler(LRScheduler):
    base_lr_orig: float
    max_update: int
    final_lr: float
    max_steps: int
    def __init__(self, max_update: int, base_lr: float = ..., final_lr: float = ...,
                 warmup_steps: int = ..., warmup_begin_lr: float = ...,
                 warmup_mode: str = ...) -> None: ...

def __getattr__(name: str) -> Any: ...
