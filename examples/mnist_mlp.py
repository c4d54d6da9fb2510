"""An MLP on MNIST with Module's intermediate-level API, then ``fit``, ``predict``, ``score``:
an MXNet 1.9.1 training program that runs unchanged on mxopt (only the import line differs).

    python examples/mnist_mlp.py --data-dir data/mnist        # the four MNIST idx files
    python examples/mnist_mlp.py --synthesize 2000            # write synthetic idx files first

The idx files may be gzip'ed (``train-images-idx3-ubyte.gz``): MNISTIter reads both forms in
mxopt; MXNet reads only the raw ones.
"""

import argparse
import gzip
import logging
import os
import struct

import numpy as np

import mxopt as mx

FILES = {"train_image": "train-images-idx3-ubyte", "train_label": "train-labels-idx1-ubyte",
         "test_image": "t10k-images-idx3-ubyte", "test_label": "t10k-labels-idx1-ubyte"}


def write_idx(path, array, gz=False):
    """An idx file (MNIST's format): magic, dimensions (big-endian int32), uint8 data."""
    header = struct.pack(">I", 0x800 + array.ndim) + b"".join(
        struct.pack(">I", d) for d in array.shape)
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def synthesize(data_dir, n_train, seed=0):
    """Digit-like synthetic data: each class lights a different band of pixels."""
    rng = np.random.RandomState(seed)
    os.makedirs(data_dir, exist_ok=True)
    for prefix, n in (("train", n_train), ("test", max(n_train // 5, 1))):
        labels = rng.randint(0, 10, n)
        images = rng.randint(0, 60, (n, 28, 28))
        for i, c in enumerate(labels):
            images[i, 2 * c + 4:2 * c + 8, 4:24] += 180
        write_idx(os.path.join(data_dir, FILES[prefix + "_image"]), np.clip(images, 0, 255))
        write_idx(os.path.join(data_dir, FILES[prefix + "_label"]), labels)


def mlp(num_hidden=(128, 64)):
    data = mx.sym.Variable("data")
    h = data
    for i, n in enumerate(num_hidden):
        h = mx.sym.FullyConnected(h, name=f"fc{i + 1}", num_hidden=n)
        h = mx.sym.Activation(h, name=f"relu{i + 1}", act_type="relu")
    h = mx.sym.FullyConnected(h, name=f"fc{len(num_hidden) + 1}", num_hidden=10)
    return mx.sym.SoftmaxOutput(h, name="softmax")


def main():
    parser = argparse.ArgumentParser(description="MLP on MNIST with mx.mod.Module")
    parser.add_argument("--data-dir", default="data/mnist")
    parser.add_argument("--synthesize", type=int, default=0,
                        help="write this many synthetic training images first")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--num-epoch", type=int, default=5)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(message)s")
    if args.synthesize:
        synthesize(args.data_dir, args.synthesize)
    path = {k: os.path.join(args.data_dir, v) for k, v in FILES.items()}
    mx.random.seed(args.seed)

    train_dataiter = mx.io.MNISTIter(image=path["train_image"], label=path["train_label"],
                                     data_shape=(784,), batch_size=args.batch_size,
                                     shuffle=True, flat=True, silent=False, seed=10)
    val_dataiter = mx.io.MNISTIter(image=path["test_image"], label=path["test_label"],
                                   data_shape=(784,), batch_size=args.batch_size,
                                   shuffle=False, flat=True, silent=False)

    # 1. The intermediate-level API: bind, init, and an explicit loop over one epoch.
    mod = mx.mod.Module(mlp())
    mod.bind(data_shapes=train_dataiter.provide_data, label_shapes=train_dataiter.provide_label)
    mod.init_params(initializer=mx.init.Xavier(magnitude=2.0))
    mod.init_optimizer(optimizer="sgd", optimizer_params=(("learning_rate", args.lr),
                                                          ("momentum", 0.9)))
    metric = mx.metric.create("acc")
    for batch in train_dataiter:
        mod.forward(batch, is_train=True)
        mod.update_metric(metric, batch.label)
        mod.backward()
        mod.update()
    logging.info("intermediate-level epoch: train %s", metric.get_name_value())
    train_dataiter.reset()

    # 2. The high-level API on a fresh module.
    mod = mx.mod.Module(mlp())
    mod.fit(train_dataiter, eval_data=val_dataiter,
            optimizer_params={"learning_rate": args.lr, "momentum": 0.9},
            initializer=mx.init.Xavier(magnitude=2.0), num_epoch=args.num_epoch,
            batch_end_callback=mx.callback.Speedometer(args.batch_size, 10))

    # 3. Prediction and scoring.
    n = 0
    for preds, _, batch in mod.iter_predict(val_dataiter):
        pred_label = preds[0].asnumpy().argmax(axis=1)
        label = batch.label[0].asnumpy().astype("int32")[:pred_label.shape[0]]
        n += (pred_label == label).sum()
    logging.info("iter_predict accuracy: %d correct", n)
    merged = mod.predict(val_dataiter)
    per_batch = mod.predict(val_dataiter, merge_batches=False)
    logging.info("predict: merged %s, %d batches", merged.shape, len(per_batch))
    score = mod.score(val_dataiter, mx.metric.create("acc"))
    logging.info("score: %s", score)


if __name__ == "__main__":
    main()
