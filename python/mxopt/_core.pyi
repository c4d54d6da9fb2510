# Type stubs of the compiled core (private: use the mxopt package).
from typing import Any, Dict, List, Optional, Tuple

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

# ---- .params files (bindings/bind_io.cc) ----
def params_load(fname: str) -> Tuple[List[Any], Optional[List[bytes]]]: ...
def params_parse(data: bytes) -> Tuple[List[Any], Optional[List[bytes]]]: ...
def params_save(fname: str, arrays: List[Any], names: Optional[List[str]]) -> None: ...
def params_serialize(arrays: List[Any], names: Optional[List[str]]) -> bytes: ...
def params_record_dumps(array: Any) -> bytes: ...
def params_record_loads(data: bytes) -> Any: ...

# ---- graph executor (bindings/bind_executor.cc) ----
def gemm_isa() -> str: ...
class GraphExecutor:
    def __init__(self, dtype: str, entries: List[Tuple[Any, bool, Any, int]],
                 nodes: List[Tuple[int, Dict[str, Any], List[int], int]], heads: List[int],
                 seed: int) -> None: ...
    def forward(self, is_train: bool) -> None: ...
    def backward(self, head_grads: List[Any], head_shapes: List[List[int]]) -> None: ...
    def head_needs_grad(self, index: int) -> bool: ...
    def seed(self, seed: int) -> None: ...

def __getattr__(name: str) -> Any: ...
