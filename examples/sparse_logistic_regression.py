"""Large sparse logistic regression: an MXNet 1.9.1 training program that runs unchanged on
mxopt (only the import line differs).

A LibSVM file with up to millions of features is read in CSR batches by ``mx.io.LibSVMIter``;
the model is ``softmax(dot(csr_data, row_sparse_weight) + bias)`` with a class-weighted
cross-entropy written as a Python custom operator, trained by Module's intermediate-level API
(``prepare`` / ``forward_backward`` / ``update``). The weight gradient is row_sparse and the
optimizer's update is lazy: a step touches only the feature rows present in the batch.

    python examples/sparse_logistic_regression.py --synthesize 20000 --num-epoch 2

(``--synthesize N`` writes N training and N/4 validation samples in LibSVM format first.)
"""

import argparse
import logging
import os
import time

import numpy as np

import mxopt as mx


# ---- the loss: a class-weighted softmax cross-entropy as a custom operator ----------------------
class WeightedSoftmaxCE(mx.operator.CustomOp):
    """Forward: softmax probabilities. Backward: (p - onehot(y)) scaled up for the positive
    class, which fights class imbalance."""

    def __init__(self, positive_class_weight):
        super().__init__()
        self.positive_class_weight = float(positive_class_weight)

    def forward(self, is_train, req, in_data, out_data, aux):
        prob = mx.nd.SoftmaxOutput(in_data[0], in_data[1])
        self.assign(out_data[0], req[0], prob)

    def backward(self, req, out_grad, in_data, out_data, in_grad, aux):
        prob, label = out_data[0], in_data[1]
        w = self.positive_class_weight
        dx = prob - mx.nd.one_hot(label, 2)
        scale = ((1 + label * w) / w).reshape((prob.shape[0], 1))
        self.assign(in_grad[0], req[0], scale * dx)


@mx.operator.register("weighted_softmax_ce")
class WeightedSoftmaxCEProp(mx.operator.CustomOpProp):
    def __init__(self, positive_class_weight):
        super().__init__(need_top_grad=False)
        self.positive_class_weight = positive_class_weight

    def list_arguments(self):
        return ["data", "label"]

    def list_outputs(self):
        return ["output"]

    def infer_shape(self, in_shape):
        return [in_shape[0], (in_shape[0][0],)], [in_shape[0]], []

    def create_operator(self, ctx, in_shapes, in_dtypes):
        return WeightedSoftmaxCE(self.positive_class_weight)


def linear_model(num_features, positive_class_weight):
    """softmax(dot(csr x, row_sparse w) + b) with the weighted loss."""
    x = mx.symbol.Variable("data", stype="csr")
    weight = mx.symbol.Variable("weight", shape=(num_features, 2),
                                init=mx.init.Normal(sigma=0.01), stype="row_sparse")
    bias = mx.symbol.Variable("bias", shape=(2,))
    pred = mx.symbol.broadcast_add(mx.symbol.sparse.dot(x, weight), bias)
    y = mx.symbol.Variable("softmax_label")
    loss = mx.sym.Custom(data=pred, label=y, op_type="weighted_softmax_ce",
                         positive_class_weight=positive_class_weight, name="out")
    return mx.sym.MakeLoss(loss)


# ---- data ----------------------------------------------------------------------------------------
def synthesize(path, num_samples, num_features, nnz, seed):
    """Write a LibSVM file: ``label idx:value ...`` with sorted zero-based indices; labels come
    from a hidden sparse linear model (about one in four positive)."""
    rng = np.random.RandomState(seed)
    truth = np.random.RandomState(1).standard_normal(num_features // 97 + 1)
    with open(path, "w") as f:
        for _ in range(num_samples):
            idx = np.unique(rng.randint(0, num_features, nnz))
            val = rng.uniform(0.1, 1.0, idx.size)
            score = (truth[idx // 97] * val).sum()
            label = int(score > 0.6)
            f.write(f"{label} " + " ".join(f"{i}:{v:.4f}" for i, v in zip(idx, val)) + "\n")


def main():
    parser = argparse.ArgumentParser(description="Sparse logistic regression on LibSVM data")
    parser.add_argument("--data-train", default="data/sparse_train.libsvm")
    parser.add_argument("--data-val", default="data/sparse_val.libsvm")
    parser.add_argument("--synthesize", type=int, default=0,
                        help="write this many synthetic training samples first")
    parser.add_argument("--nnz", type=int, default=40, help="features per synthetic sample")
    parser.add_argument("--num-features", type=int, default=1000001)
    parser.add_argument("--num-epoch", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8192)
    parser.add_argument("--optimizer", default="adam", choices=["adam", "adagrad", "sgd"])
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--kvstore", default=None, help="None or 'local'")
    parser.add_argument("--positive-class-weight", type=float, default=2.0)
    parser.add_argument("--disp-batches", type=int, default=10)
    parser.add_argument("--model-prefix", default=None)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s:%(message)s")

    if args.synthesize:
        for path, n, seed in ((args.data_train, args.synthesize, 2),
                              (args.data_val, max(args.synthesize // 4, 1), 3)):
            os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
            synthesize(path, n, args.num_features, args.nnz, seed)

    kv = mx.kvstore.create(args.kvstore) if args.kvstore else None
    rank = kv.rank if kv else 0
    num_worker = kv.num_workers if kv else 1
    mx.random.seed(args.seed)

    train_data = mx.io.LibSVMIter(data_libsvm=args.data_train, data_shape=(args.num_features,),
                                  batch_size=args.batch_size, num_parts=num_worker,
                                  part_index=rank)
    eval_data = mx.io.LibSVMIter(data_libsvm=args.data_val, data_shape=(args.num_features,),
                                 batch_size=args.batch_size)

    model = linear_model(args.num_features, args.positive_class_weight)
    mod = mx.mod.Module(symbol=model, data_names=["data"], label_names=["softmax_label"])
    mod.bind(data_shapes=train_data.provide_data, label_shapes=train_data.provide_label)
    mod.init_params()
    optim = mx.optimizer.create(args.optimizer, learning_rate=args.lr,
                                rescale_grad=1.0 / args.batch_size / num_worker)
    mod.init_optimizer(optimizer=optim, kvstore=kv)
    metric = mx.metric.create(["nll_loss"])
    speedometer = mx.callback.Speedometer(args.batch_size, args.disp_batches)

    def batch_row_ids(data_batch):
        """The weight rows a batch needs: its distinct feature indices."""
        return {"weight": data_batch.data[0].indices}

    all_row_ids = mx.nd.arange(0, args.num_features, dtype="int64")
    # With a store that holds the weights, a batch first pulls the weight rows it needs (and
    # evaluation all of them); without one the module's own weight is up to date.
    row_id_fn = batch_row_ids if kv else None
    all_rows_fn = (lambda _: {"weight": all_row_ids}) if kv else None

    logging.info("Training started ...")
    for epoch in range(args.num_epoch):
        if epoch:
            # (rewound here, not after the last epoch: MXNet 1.9.1's LibSVMIter can crash at
            # exit when it is destroyed while rewinding)
            train_data.reset()
        tic = time.time()
        nbatch = 0
        metric.reset()
        for batch in train_data:
            nbatch += 1
            mod.prepare(batch, sparse_row_id_fn=row_id_fn)
            mod.forward_backward(batch)
            mod.update()
            mod.update_metric(metric, batch.label)
            speedometer(mx.model.BatchEndParam(epoch=epoch, nbatch=nbatch, eval_metric=metric,
                                               locals=locals()))
        logging.info("epoch %d, train %s, %d batches in %.3f s", epoch, metric.get(), nbatch,
                     time.time() - tic)
        mod.prepare(None, all_rows_fn)
        score = mod.score(eval_data, ["nll_loss"])
        logging.info("epoch %d, eval nll = %s", epoch, score[0][1])
        if args.model_prefix:
            mod.prepare(None, all_rows_fn)
            mod.save_checkpoint(args.model_prefix, epoch + 1)


if __name__ == "__main__":
    main()
