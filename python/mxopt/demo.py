"""``python -m mxopt.demo``: the acceptance program of mxopt, run on built-in synthetic data.

It is an unmodified MXNet 1.9.1 training script apart from ``import mxopt as mx``: a
FullyConnected(20 -> 10) + SoftmaxOutput network trained by ``Module.fit`` with SGD and a
FactorScheduler, printing MXNet's log lines (``Epoch[k] Batch [...] Speed``, ``Train-accuracy``,
``Time cost``, ``Validation-accuracy``) and finally the learned parameters.

The data is learnable: 10 Gaussian clusters in 20 dimensions, so accuracy rises far above the
10% of chance within the first epoch. ``--check-mxnet`` replays the same program (same initial
weights, same batches) with real MXNet, if it is installed, and reports the largest parameter
difference.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

import mxopt as mx

NUM_FEATURES, NUM_CLASSES = 20, 10


def synthetic_data(num_samples: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """``num_samples`` points around 10 random class centres (learnable, not separable)."""
    rng = np.random.RandomState(seed)
    centres = rng.normal(0.0, 1.0, size=(NUM_CLASSES, NUM_FEATURES))
    labels = rng.randint(0, NUM_CLASSES, size=num_samples)
    data = centres[labels] + rng.normal(0.0, 0.9, size=(num_samples, NUM_FEATURES))
    return data.astype(np.float32), labels.astype(np.float32)


class ProgressDisplay:
    """Batch-end callback drawing a live progress bar on a terminal (``\\r``-updated)."""

    def __init__(self, batches_per_epoch: int, num_epoch: int, stream: Any = None,
                 width: int = 30) -> None:
        self.total = batches_per_epoch
        self.num_epoch = num_epoch
        self.stream = stream or sys.stderr
        self.width = width
        self.tic = time.time()

    def __call__(self, param: Any) -> None:
        done = param.nbatch + 1
        filled = int(round(self.width * done / self.total))
        name, value = param.eval_metric.get_global_name_value()[0]
        rate = done / max(time.time() - self.tic, 1e-9)
        self.stream.write("\r  epoch %d/%d [%s%s] %3d%%  %s=%.4f  %.0f batches/s " % (
            param.epoch + 1, self.num_epoch, "#" * filled, "." * (self.width - filled),
            100 * done // self.total, name, value, rate))
        if done >= self.total:
            self.stream.write("\n")
            self.tic = time.time()
        self.stream.flush()


def run(num_epoch: int = 5, num_samples: int = 6000, batch_size: int = 128, seed: int = 42,
        progress: bool = True, mxnet_module: Any = None,
        initial: Optional[Dict[str, np.ndarray]] = None) -> Dict[str, np.ndarray]:
    """Run the acceptance program with ``mxnet_module`` (default: mxopt); return the params."""
    mxm = mxnet_module or mx
    data, label = synthetic_data(num_samples, seed)
    split = num_samples * 5 // 6
    np.random.seed(seed)  # NDArrayIter shuffles with numpy's global RNG, as in MXNet
    train_iter = mxm.io.NDArrayIter(data[:split], label[:split], batch_size, shuffle=True)
    eval_iter = mxm.io.NDArrayIter(data[split:], label[split:], batch_size)

    # ---- the acceptance program (MXNet 1.9.1 code; only the import differs) ----
    data_sym = mxm.symbol.Variable('data')
    label_sym = mxm.symbol.Variable('softmax_label')
    fc = mxm.symbol.FullyConnected(data_sym, name='fc', num_hidden=10)
    loss = mxm.symbol.SoftmaxOutput(fc, label_sym, name='softmax')
    mod = mxm.mod.Module(loss)
    mod.bind(data_shapes=[('data', (batch_size, NUM_FEATURES))],
             label_shapes=[('softmax_label', (batch_size,))])
    mxm.random.seed(seed)
    mod.init_params(mxm.initializer.Uniform(scale=1.0))
    if initial is not None:  # replaying another run: start from its exact weights
        mod.set_params({k: mxm.nd.array(v) for k, v in initial.items()}, {})
    lr_sch = mxm.lr_scheduler.FactorScheduler(step=100, factor=0.9)
    mod.init_optimizer(optimizer='sgd', optimizer_params=(('learning_rate', 0.1),
                                                          ('lr_scheduler', lr_sch)))
    batches = (split + batch_size - 1) // batch_size
    callbacks: List[Any] = [mxm.callback.Speedometer(batch_size, frequent=20)]
    if progress:
        callbacks.append(ProgressDisplay(batches, num_epoch))
    mod.fit(train_iter, eval_data=eval_iter, num_epoch=num_epoch, batch_end_callback=callbacks)
    for dictionary in mod.get_params():
        for key in dictionary:
            print(key)
            print(dictionary[key].asnumpy())
    # -----------------------------------------------------------------------------
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m mxopt.demo", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=5, help="training epochs (default 5)")
    ap.add_argument("--samples", type=int, default=6000,
                    help="synthetic samples, 5/6 for training (default 6000)")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--no-progress", action="store_true", help="no live progress bar")
    ap.add_argument("--check-mxnet", action="store_true",
                    help="replay the run with real MXNet (if installed) and compare parameters")
    args = ap.parse_args(argv)
    if args.epochs < 1 or args.samples < 12 or args.batch_size < 1:
        ap.error("--epochs, --batch-size must be >= 1 and --samples >= 12")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    print("mxopt %s demo: FullyConnected(20->10) + SoftmaxOutput, SGD lr 0.1 with "
          "FactorScheduler(step=100, factor=0.9)" % mx.__version__, flush=True)
    ours = run(args.epochs, args.samples, args.batch_size, args.seed, not args.no_progress)
    if args.check_mxnet:
        try:
            import mxnet
        except ImportError:
            print("--check-mxnet: mxnet is not installed", file=sys.stderr)
            return 1
        print("\nReplaying the same program with MXNet %s ..." % mxnet.__version__, flush=True)
        initial = _initial_params(args)
        theirs = run(args.epochs, args.samples, args.batch_size, args.seed, False, mxnet, initial)
        diff = max(float(np.abs(ours[k] - theirs[k]).max()) for k in ours)
        print("max |mxopt - MXNet| over all parameters after training: %.3g" % diff)
    return 0


def _initial_params(args: Any) -> Dict[str, np.ndarray]:
    """mxopt's initial weights of the run (MXNet then starts from exactly these)."""
    mod = mx.mod.Module(mx.sym.SoftmaxOutput(
        mx.sym.FullyConnected(mx.sym.Variable('data'), name='fc', num_hidden=10), name='softmax'))
    mod.bind(data_shapes=[('data', (args.batch_size, NUM_FEATURES))],
             label_shapes=[('softmax_label', (args.batch_size,))])
    mx.random.seed(args.seed)
    mod.init_params(mx.initializer.Uniform(scale=1.0))
    return {k: v.asnumpy() for k, v in mod.get_params()[0].items()}


if __name__ == "__main__":
    raise SystemExit(main())
