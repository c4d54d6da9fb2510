#!/usr/bin/env python3
"""Train an MLP on MNIST with Module.fit, driven the way MXNet's image-classification scripts
drive it: a key-value store from ``--kv-store`` (its rank and worker count size the epoch), a
step learning-rate schedule in epochs, Xavier initialization, Speedometer and checkpoint
callbacks, resuming from a checkpoint with ``--load-epoch``, top-k accuracy and loss metrics,
and an optional Monitor.

The data are the four MNIST files in their original gzip'ed idx format in ``--data-dir``
(``train-images-idx3-ubyte.gz``, ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz``,
``t10k-labels-idx1-ubyte.gz``); nothing is downloaded.

    python examples/train_mnist_fit.py --data-dir ~/mnist --num-epochs 5 --cpus 0,1
    python examples/train_mnist_fit.py --data-dir ~/mnist --num-epochs 10 \\
        --model-prefix /tmp/mlp --load-epoch 5                  # resume after epoch 5

The same program runs on MXNet 1.9.1 with the import line changed to ``import mxnet as mx``.
"""

import argparse
import gzip
import logging
import math
import os
import struct
import sys

import numpy as np

import mxopt as mx

NETWORKS = {  # name -> hidden layers, activation, BatchNorm after each hidden layer
    "mlp": ((128, 64), "relu", False),
    "mlp-bn": ((128, 64), "relu", True),
    "mlp-tanh": ((128, 64), "tanh", False),
    "mlp-wide": ((512, 256), "relu", False),
    "perceptron": ((), None, False),
}
INITIALIZERS = ("default", "xavier", "msra", "normal", "uniform", "one", "zero")
MNIST_FILES = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
               "val": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}


def build_parser():
    """The command line: MXNet's fit options (those that apply to a CPU MLP) and the data."""
    p = argparse.ArgumentParser(description="train an MLP on MNIST with Module.fit",
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    net = p.add_argument_group("network and data")
    net.add_argument("--network", default="mlp", choices=sorted(NETWORKS))
    net.add_argument("--num-classes", type=int, default=10)
    net.add_argument("--data-dir", default="data", help="directory of the four MNIST .gz files")
    net.add_argument("--num-examples", type=int, default=60000,
                     help="training examples per epoch (sizes the epoch in batches)")
    fit = p.add_argument_group("training")
    fit.add_argument("--cpus", default=None,
                     help="contexts, e.g. '0,1' for mx.cpu(0) and mx.cpu(1) (default mx.cpu())")
    fit.add_argument("--kv-store", default="device", help="key-value store type")
    fit.add_argument("--num-epochs", type=int, default=20)
    fit.add_argument("--lr", type=float, default=0.05, help="initial learning rate")
    fit.add_argument("--lr-factor", type=float, default=0.1,
                     help="the learning rate is multiplied by this at each step epoch")
    fit.add_argument("--lr-step-epochs", default="10",
                     help="comma-separated epochs after which the learning rate drops")
    fit.add_argument("--initializer", default="default", choices=INITIALIZERS)
    fit.add_argument("--optimizer", default="sgd")
    fit.add_argument("--mom", type=float, default=0.9, help="momentum (sgd, nag)")
    fit.add_argument("--wd", type=float, default=0.0001, help="weight decay")
    fit.add_argument("--batch-size", type=int, default=64)
    fit.add_argument("--disp-batches", type=int, default=100,
                     help="log speed and metrics every this many batches")
    fit.add_argument("--model-prefix", default=None, help="checkpoint files prefix")
    fit.add_argument("--save-period", type=int, default=1, help="checkpoint every N epochs")
    fit.add_argument("--load-epoch", type=int, default=None,
                     help="resume from the checkpoint of this epoch (needs --model-prefix)")
    fit.add_argument("--monitor", type=int, default=0,
                     help="log weight statistics every N batches (0: off)")
    fit.add_argument("--top-k", type=int, default=0, help="also report top-k accuracy (k > 1)")
    fit.add_argument("--loss", default="",
                     help="also report these losses: 'ce', 'nll_loss' (comma-separated)")
    fit.add_argument("--seed", type=int, default=None,
                     help="seed numpy (data order) and mx.random (initial weights)")
    return p


def mlp_symbol(network, num_classes):
    """Flatten the (1, 28, 28) images, then the hidden layers of ``network`` and a softmax.
    With BatchNorm, its moving mean and variance are auxiliary states: updated by training
    forward passes, saved in checkpoints as ``aux:`` records, never seen by the optimizer."""
    hidden, act, batch_norm = NETWORKS[network]
    h = mx.sym.Flatten(data=mx.sym.Variable("data"))
    for i, width in enumerate(hidden, start=1):
        h = mx.sym.FullyConnected(data=h, name="fc%d" % i, num_hidden=width, no_bias=batch_norm)
        if batch_norm:
            h = mx.sym.BatchNorm(data=h, name="bn%d" % i, fix_gamma=False)
        h = mx.sym.Activation(data=h, name="%s%d" % (act, i), act_type=act)
    h = mx.sym.FullyConnected(data=h, name="fc%d" % (len(hidden) + 1), num_hidden=num_classes)
    return mx.sym.SoftmaxOutput(data=h, name="softmax")


def read_idx_gz(path, magic, dims):
    """The array of a gzip'ed idx file (``magic`` 2049: labels, 2051: images)."""
    if not os.path.isfile(path):
        raise SystemExit("MNIST file not found: %s" % path)
    with gzip.open(path, "rb") as f:
        raw = f.read()
    header = 4 * (1 + dims)
    if len(raw) < header:
        raise SystemExit("%s: truncated idx header" % path)
    fields = struct.unpack(">%dI" % (1 + dims), raw[:header])
    if fields[0] != magic:
        raise SystemExit("%s: magic number %d, expected %d" % (path, fields[0], magic))
    shape = fields[1:]
    count = int(np.prod(shape))
    if len(raw) - header != count:
        raise SystemExit("%s: %d data bytes for shape %s (%d expected)"
                         % (path, len(raw) - header, shape, count))
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def read_mnist(data_dir, part):
    """``(images (N, 1, 28, 28) float32 in [0, 1], labels (N,))`` of ``part``."""
    images_file, labels_file = MNIST_FILES[part]
    images = read_idx_gz(os.path.join(data_dir, images_file), 2051, 3)
    labels = read_idx_gz(os.path.join(data_dir, labels_file), 2049, 1)
    if images.shape[0] != labels.shape[0]:
        raise SystemExit("%s: %d images but %d labels" % (part, images.shape[0], labels.shape[0]))
    images = images.reshape(images.shape[0], 1, images.shape[1], images.shape[2])
    return images.astype(np.float32) / 255, labels


def epoch_batches(args, kv):
    """Batches per epoch of one worker."""
    return int(math.ceil(int(args.num_examples / kv.num_workers) / args.batch_size))


def data_iters(args, kv):
    """The training iterator (shuffled, exactly one epoch of batches per epoch) and the
    validation iterator."""
    train_x, train_y = read_mnist(args.data_dir, "train")
    val_x, val_y = read_mnist(args.data_dir, "val")
    train = mx.io.NDArrayIter(train_x, train_y, args.batch_size, shuffle=True)
    train = mx.io.ResizeIter(train, epoch_batches(args, kv))
    val = mx.io.NDArrayIter(val_x, val_y, args.batch_size)
    return train, val


def lr_schedule(args, kv, begin_epoch):
    """``(learning rate at begin_epoch, MultiFactorScheduler or None)`` for the step epochs."""
    if not args.lr_factor or args.lr_factor >= 1:
        return args.lr, None
    steps = [int(s) for s in args.lr_step_epochs.split(",") if s.strip()]
    lr = args.lr
    for s in steps:
        if begin_epoch >= s:
            lr *= args.lr_factor
    if lr != args.lr:
        logging.info("Adjusted the learning rate to %e for epoch %d", lr, begin_epoch)
    size = epoch_batches(args, kv)
    updates = [size * (s - begin_epoch) for s in steps if s > begin_epoch]
    if not updates:
        return lr, None
    return lr, mx.lr_scheduler.MultiFactorScheduler(step=updates, factor=args.lr_factor,
                                                    base_lr=lr)


def make_initializer(name):
    """``--initializer``: 'default' is Xavier(gaussian, 'in', magnitude 2), as MXNet's
    image-classification scripts use for MLPs."""
    if name == "default":
        return mx.init.Xavier(rnd_type="gaussian", factor_type="in", magnitude=2)
    return {"xavier": mx.init.Xavier, "msra": mx.init.MSRAPrelu, "normal": mx.init.Normal,
            "uniform": mx.init.Uniform, "one": mx.init.One, "zero": mx.init.Zero}[name]()


def eval_metrics(args, net):
    """Accuracy, plus top-k accuracy and the requested losses."""
    metrics = ["accuracy"]
    if args.top_k > 0:
        metrics.append(mx.metric.create("top_k_accuracy", top_k=args.top_k))
    losses = [x.strip() for x in args.loss.split(",") if x.strip()]
    if losses and "softmax_output" not in net.list_outputs():
        logging.warning("the network has no softmax output: --loss is ignored")
        return metrics
    for loss in losses:
        loss = "nll_loss" if loss == "nll" else loss
        if loss not in ("ce", "nll_loss"):
            logging.warning("%s is not a loss this script reports (use ce or nll_loss)", loss)
            continue
        metrics.append(mx.metric.create(loss))
    return metrics


def main(argv=None):
    """Parse ``argv``, train, and return the fitted Module."""
    args = build_parser().parse_args(argv)
    kv = mx.kvstore.create(args.kv_store)
    logging.basicConfig(level=logging.DEBUG,
                        format="%(asctime)-15s Node[" + str(kv.rank) + "] %(message)s")
    logging.info("start with arguments %s", args)
    if args.seed is not None:
        np.random.seed(args.seed)
        mx.random.seed(args.seed)
    net = mlp_symbol(args.network, args.num_classes)
    train, val = data_iters(args, kv)

    begin_epoch = args.load_epoch or 0
    arg_params = aux_params = None
    if args.load_epoch is not None:
        if args.model_prefix is None:
            raise SystemExit("--load-epoch needs --model-prefix")
        prefix = args.model_prefix if kv.rank == 0 else "%s-%d" % (args.model_prefix, kv.rank)
        sym, arg_params, aux_params = mx.model.load_checkpoint(prefix, args.load_epoch)
        if sym.tojson() != net.tojson():
            raise SystemExit("%s-symbol.json is not the network %s" % (prefix, args.network))
        logging.info("Loaded model %s-%04d.params", prefix, args.load_epoch)
        for _ in range(begin_epoch):  # replay the data order of the epochs already trained
            for _ in train:
                pass
            train.reset()
    checkpoint = None
    if args.model_prefix is not None:
        prefix = args.model_prefix if kv.rank == 0 else "%s-%d" % (args.model_prefix, kv.rank)
        checkpoint = mx.callback.do_checkpoint(prefix, period=args.save_period)

    contexts = mx.cpu() if args.cpus is None else \
        [mx.cpu(int(i)) for i in args.cpus.split(",") if i.strip()]
    lr, scheduler = lr_schedule(args, kv, begin_epoch)
    optimizer_params = {"learning_rate": lr, "wd": args.wd, "lr_scheduler": scheduler}
    if args.optimizer in ("sgd", "nag", "signum"):
        optimizer_params["momentum"] = args.mom
    monitor = mx.mon.Monitor(args.monitor, pattern=".*weight") if args.monitor > 0 else None

    model = mx.mod.Module(symbol=net, context=contexts)
    model.fit(train, eval_data=val, eval_metric=eval_metrics(args, net), kvstore=kv,
              optimizer=args.optimizer, optimizer_params=optimizer_params,
              initializer=make_initializer(args.initializer), arg_params=arg_params,
              aux_params=aux_params, allow_missing=True, begin_epoch=begin_epoch,
              num_epoch=args.num_epochs, monitor=monitor,
              batch_end_callback=mx.callback.Speedometer(args.batch_size, args.disp_batches,
                                                         auto_reset=False),
              epoch_end_callback=checkpoint)
    return model


if __name__ == "__main__":
    main(sys.argv[1:])
