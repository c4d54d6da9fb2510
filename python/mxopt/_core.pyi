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

# ---- random (bind_random.cc) ----
def random_seed(seed: int, generator: str = ...) -> None: ...
def random_generator() -> str: ...
def random_current_seed() -> int: ...
def random_uniform(low: Any, high: Any, out: Any) -> None: ...
def random_normal(loc: Any, scale: Any, out: Any) -> None: ...
def parse_mxnet_float(text: str) -> float: ...
def parse_mxnet_double(text: str) -> float: ...
def philox_simd() -> str: ...

# ---- initializers (bind_initializers.cc) ----
class InitRule:
    def fill(self, arr: Any) -> None: ...

class ConstantRule(InitRule):
    value: float
    def __init__(self, value: float) -> None: ...

class UniformRule(InitRule):
    scale: float
    def __init__(self, scale: float = ...) -> None: ...

class NormalRule(InitRule):
    sigma: float
    def __init__(self, sigma: float = ...) -> None: ...

class XavierRule(InitRule):
    rnd_type: str
    factor_type: str
    magnitude: float
    def __init__(self, rnd_type: str = ..., factor_type: str = ..., magnitude: float = ...) -> None: ...
    def scale_for(self, shape: List[int]) -> float: ...

class OrthogonalRule(InitRule):
    scale: float
    rand_type: str
    def __init__(self, scale: float = ..., rand_type: str = ...) -> None: ...

class BilinearRule(InitRule):
    def __init__(self) -> None: ...

class LSTMBiasRule(InitRule):
    forget_bias: float
    def __init__(self, forget_bias: float = ...) -> None: ...
