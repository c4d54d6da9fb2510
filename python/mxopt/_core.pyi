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

# ---- optimizer kernels (bind_optimizers.cc): in-place updates of numpy buffers ---------------
from typing import Optional, Sequence
import numpy as np
_A = np.ndarray
_Clip = Optional[float]

def mxnet_float(value: Any) -> float: ...
def mxnet_double(value: Any) -> float: ...
def python_repr(x: float) -> str: ...
def sgd_update(weight: _A, grad: _A, *, lr: float, wd: float = ..., rescale_grad: float = ...,
               clip_gradient: float = ...) -> None: ...
def sgd_mom_update(weight: _A, grad: _A, mom: Optional[_A], *, lr: float, wd: float = ...,
                   rescale_grad: float = ..., clip_gradient: float = ...,
                   momentum: float = ...) -> None: ...
def preloaded_sgd_mom_update(weight: _A, grad: _A, mom: Optional[_A], *, lr: float,
                             wd: float = ..., rescale_grad: float = ...,
                             clip_gradient: float = ..., momentum: float = ...) -> None: ...
def mp_sgd_update(weight: _A, grad: _A, weight32: _A, *, lr: float, wd: float = ...,
                  rescale_grad: float = ..., clip_gradient: float = ...) -> None: ...
def mp_sgd_mom_update(weight: _A, grad: _A, mom: Optional[_A], weight32: _A, *, lr: float,
                      wd: float = ..., rescale_grad: float = ..., clip_gradient: float = ...,
                      momentum: float = ...) -> None: ...
def sgd_update_rsp(weight: _A, grad_data: _A, grad_indices: _A, *, lr: float, wd: float = ...,
                   rescale_grad: float = ..., clip_gradient: float = ...,
                   lazy_update: bool = ...) -> None: ...
def sgd_mom_update_rsp(weight: _A, grad_data: _A, grad_indices: _A, mom: _A, *, lr: float,
                       wd: float = ..., rescale_grad: float = ..., clip_gradient: float = ...,
                       momentum: float = ..., lazy_update: bool = ...) -> None: ...
def nag_mom_update(weight: _A, grad: _A, mom: _A, *, lr: float, wd: float = ...,
                   rescale_grad: float = ..., clip_gradient: float = ...,
                   momentum: float = ...) -> None: ...
def mp_nag_mom_update(weight: _A, grad: _A, mom: _A, weight32: _A, *, lr: float,
                      wd: float = ..., rescale_grad: float = ..., clip_gradient: float = ...,
                      momentum: float = ...) -> None: ...
def lars_lr(lr: float, w_sum_sq: float, g_sum_sq: float, wd: float, eta: float, eps: float,
            rescale_grad: float) -> float: ...
def signum_update(weight: _A, grad: _A, mom: _A, *, lr: float, wd: float = ...,
                  rescale_grad: float = ..., clip_gradient: float = ..., momentum: float = ...,
                  wd_lh: float = ...) -> None: ...
def signsgd_update(weight: _A, grad: _A, *, lr: float, wd: float = ...) -> None: ...
def adam_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float, beta1: float = ...,
                beta2: float = ..., epsilon: float = ..., wd: float = ...,
                rescale_grad: float = ..., clip_gradient: float = ...) -> None: ...
def adam_update_rsp(weight: _A, grad_data: _A, grad_indices: _A, mean: _A, var: _A, *,
                    lr: float, beta1: float = ..., beta2: float = ..., epsilon: float = ...,
                    wd: float = ..., rescale_grad: float = ..., clip_gradient: float = ...,
                    lazy_update: bool = ...) -> None: ...
def adamw_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float = ..., eta: float,
                 beta1: float = ..., beta2: float = ..., epsilon: float = ..., wd: float = ...,
                 rescale_grad: float = ..., clip_gradient: float = ...,
                 aggregated: bool = ...) -> bool: ...
def adabelief_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float = ..., eta: float,
                     beta1: float = ..., beta2: float = ..., epsilon: float = ...,
                     wd: float = ..., rescale_grad: float = ..., clip_gradient: float = ...,
                     aggregated: bool = ...) -> bool: ...
def adamw_step_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float, lr_wd: float,
                      wd: float, beta1: float, one_minus_beta1: float, beta2: float,
                      one_minus_beta2: float, epsilon: float, rescale_grad: float,
                      clip_gradient: _Clip = ...) -> None: ...
def adabelief_step_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float, lr_wd: float,
                          wd: float, beta1: float, one_minus_beta1: float, beta2: float,
                          one_minus_beta2: float, epsilon: float, rescale_grad: float,
                          clip_gradient: _Clip = ...) -> None: ...
def adamax_update(weight: _A, grad: _A, mean: _A, u: _A, *, lr: float, beta1: float,
                  one_minus_beta1: float, beta2: float, wd: float, rescale_grad: float,
                  clip_gradient: _Clip = ...) -> None: ...
def nadam_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float, beta1: float,
                 one_minus_beta1: float, beta2: float, one_minus_beta2: float, epsilon: float,
                 wd: float, rescale_grad: float, one_minus_momentum_t: float,
                 momentum_t1: float, one_minus_m_schedule: float,
                 one_minus_m_schedule_next: float, one_minus_beta2_t: float,
                 clip_gradient: _Clip = ...) -> None: ...
def adagrad_update(weight: _A, grad: _A, history: _A, *, lr: float, wd: float,
                   rescale_grad: float, epsilon: float, clip_gradient: _Clip = ...) -> None: ...
def adagrad_update_rsp(weight: _A, grad_data: _A, grad_indices: _A, history: _A, *, lr: float,
                       rescale_grad: float = ..., epsilon: float = ...,
                       clip_gradient: float = ...) -> None: ...
def group_adagrad_update(weight: _A, grad: _A, history: _A, *, lr: float, rescale_grad: float,
                         epsilon: float, clip_gradient: _Clip = ...) -> None: ...
def group_adagrad_update_rsp(weight: _A, grad_data: _A, grad_indices: _A, history: _A, *,
                             lr: float, rescale_grad: float = ..., epsilon: float = ...,
                             clip_gradient: float = ...) -> None: ...
def adadelta_update(weight: _A, grad: _A, acc_g: _A, acc_delta: _A, *, rho: float,
                    one_minus_rho: float, epsilon: float, wd: float, rescale_grad: float,
                    clip_gradient: _Clip = ...) -> None: ...
def rmsprop_update(weight: _A, grad: _A, n: _A, *, lr: float, gamma1: float = ...,
                   epsilon: float = ..., wd: float = ..., rescale_grad: float = ...,
                   clip_gradient: float = ..., clip_weights: float = ...) -> None: ...
def rmspropalex_update(weight: _A, grad: _A, n: _A, g: _A, delta: _A, *, lr: float,
                       gamma1: float = ..., gamma2: float = ..., epsilon: float = ...,
                       wd: float = ..., rescale_grad: float = ..., clip_gradient: float = ...,
                       clip_weights: float = ...) -> None: ...
def ftrl_update(weight: _A, grad: _A, z: _A, n: _A, *, lr: float, lamda1: float = ...,
                beta: float = ..., wd: float = ..., rescale_grad: float = ...,
                clip_gradient: float = ...) -> None: ...
def ftrl_update_rsp(weight: _A, grad_data: _A, grad_indices: _A, z: _A, n: _A, *, lr: float,
                    lamda1: float = ..., beta: float = ..., wd: float = ...,
                    rescale_grad: float = ..., clip_gradient: float = ...) -> None: ...
def ftml_update(weight: _A, grad: _A, d: _A, v: _A, z: _A, *, lr: float, beta1: float = ...,
                beta2: float = ..., epsilon: float = ..., wd: float = ...,
                rescale_grad: float = ..., clip_grad: float = ..., t: int) -> None: ...
def lamb_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float, beta1: float = ...,
                beta2: float = ..., epsilon: float = ..., wd: float = ...,
                rescale_grad: float = ..., clip_gradient: float = ..., lower_bound: float = ...,
                upper_bound: float = ..., t: int, bias_correction: bool = ...,
                aggregated: bool = ...) -> None: ...
def mp_lamb_update(weight: _A, grad: _A, mean: _A, var: _A, weight32: _A, *, lr: float,
                   beta1: float = ..., beta2: float = ..., epsilon: float = ..., wd: float = ...,
                   rescale_grad: float = ..., clip_gradient: float = ...,
                   lower_bound: float = ..., upper_bound: float = ..., t: int,
                   bias_correction: bool = ..., aggregated: bool = ...) -> None: ...
def lans_update(weight: _A, grad: _A, mean: _A, var: _A, *, lr: float, beta1: float = ...,
                beta2: float = ..., epsilon: float = ..., wd: float = ...,
                rescale_grad: float = ..., clip_gradient: float = ..., p_clip: bool = ...,
                lower_bound: float = ..., upper_bound: float = ..., t: int, fused: bool = ...,
                norm_weight: Optional[_A] = ..., one_minus_beta1: float = ...,
                one_minus_beta2: float = ...) -> None: ...
def sgld_update(weight: _A, grad: _A, noise: _A, *, neg_half_lr: float, wd: float,
                rescale_grad: float, clip_gradient: _Clip = ...) -> None: ...
def dcasgd_update(weight: _A, grad: _A, previous_weight: _A, *, lr: float, wd: float,
                  lamda: float, rescale_grad: float, clip_gradient: _Clip = ...) -> None: ...
def test_update(weight: _A, grad: _A, state: _A, *, rescale_grad: float) -> None: ...
def sum_sq(x: _A) -> float: ...
def nrm2(x: _A) -> float: ...
def dot_norm(x: _A) -> float: ...
def cast_into(src: _A, dst: _A) -> None: ...

def __getattr__(name: str) -> Any: ...

# ---- optimizer kernels: ISA dispatch and multi-tensor steps ------------------------------------
def optimizer_isa() -> str: ...
def set_optimizer_isa(name: str) -> str: ...
def multi_sgd_mom_update(weights: Sequence[_A], grads: Sequence[_A],
                         moms: Optional[Sequence[_A]], *, lrs: Sequence[float],
                         wds: Sequence[float], rescale_grad: float = ...,
                         clip_gradient: float = ..., momentum: float = ...) -> None: ...
def multi_adam_update(weights: Sequence[_A], grads: Sequence[_A], means: Sequence[_A],
                      vars: Sequence[_A], *, lrs: Sequence[float], wds: Sequence[float],
                      beta1: float = ..., beta2: float = ..., epsilon: float = ...,
                      rescale_grad: float = ..., clip_gradient: float = ...) -> None: ...
def multi_rmsprop_update(weights: Sequence[_A], grads: Sequence[_A], ns: Sequence[_A], *,
                         lrs: Sequence[float], wds: Sequence[float], gamma1: float = ...,
                         epsilon: float = ..., rescale_grad: float = ...,
                         clip_gradient: float = ..., clip_weights: float = ...) -> None: ...
def multi_adagrad_update(weights: Sequence[_A], grads: Sequence[_A], histories: Sequence[_A], *,
                         lrs: Sequence[float], wds: Sequence[float], rescale_grad: float,
                         epsilon: float, clip_gradient: Optional[float] = ...) -> None: ...
