"""Models with auxiliary states (BatchNorm) through the whole Module, against MXNet 1.9.1: the
initial parameters and auxiliary states for the same seed (operator-declared initializers, a
Variable's own init, the name rules), Module.fit with weight decay (gamma is decayed, beta is
not), checkpoints MXNet loads and vice versa, resume == uninterrupted, several contexts.

MXNet's threaded engine occasionally loses the moving-statistics update of a BatchNorm whose
batch has very few rows (the same program updates them under MXNET_ENGINE_TYPE=NaiveEngine);
the batches here have 32 rows, where its results do not depend on the engine."""
import numpy as np
import pytest

from mxnet_oracle import require_mxnet

mxnet = require_mxnet()
import mxopt

RNG = np.random.RandomState(3)
X = RNG.standard_normal((96, 10)).astype(np.float32)
Y = (RNG.rand(96) * 4).astype(np.int64).astype(np.float32)


def net(mx):
    data = mx.sym.var("data")
    # no bias before a BatchNorm: its gradient would be exactly zero, and the optimizers would
    # amplify each library's rounding noise in it
    h = mx.sym.FullyConnected(data, num_hidden=16, name="fc1", no_bias=True)
    h = mx.sym.BatchNorm(h, name="bn1", fix_gamma=False, momentum=0.8)
    h = mx.sym.LeakyReLU(h, act_type="prelu", name="pr1")
    h = mx.sym.FullyConnected(h, num_hidden=12, name="fc2", no_bias=True)
    h = mx.sym.BatchNorm(h, name="bn2")  # fix_gamma=True: gamma stays 1
    h = mx.sym.Activation(h, act_type="sigmoid")
    w3 = mx.sym.var("fc3_weight", init=mx.init.Constant(0.05))  # its own initializer
    h = mx.sym.FullyConnected(h, weight=w3, num_hidden=4, name="fc3")
    return mx.sym.SoftmaxOutput(h, name="softmax")


def trained(mx, optimizer, params, epochs, contexts=None, seed=7, begin_epoch=0,
            arg_params=None, aux_params=None):
    mx.random.seed(seed)
    mod = mx.mod.Module(net(mx), context=contexts or mx.cpu())
    it = mx.io.NDArrayIter(X, Y, batch_size=32)
    mod.fit(it, num_epoch=epochs, optimizer=optimizer, optimizer_params=params,
            initializer=mx.init.Xavier(magnitude=2.0), begin_epoch=begin_epoch,
            arg_params=arg_params, aux_params=aux_params, eval_metric="acc")
    return mod


def numpy_params(mod):
    args, auxs = mod.get_params()
    return ({k: v.asnumpy() for k, v in args.items()}, {k: v.asnumpy() for k, v in auxs.items()})


def close(a, b, rtol, atol, what):
    assert sorted(a) == sorted(b), what
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=rtol, atol=atol, err_msg=f"{what} {k}")


def close_to_scale(a, b, scale, what):
    """Each parameter within ``scale`` times its own largest magnitude: the libraries' GEMMs
    round differently and a BatchNorm network amplifies the differences step by step (MXNet
    itself differs this much between its oneDNN and its own CPU kernels)."""
    assert sorted(a) == sorted(b), what
    for k in a:
        np.testing.assert_allclose(b[k], a[k], rtol=0, atol=scale * max(np.abs(a[k]).max(), 1e-6),
                                   err_msg=f"{what} {k}")


def test_initial_parameters_and_states_match_mxnet():
    mods = {}
    for mx in (mxnet, mxopt):
        mx.random.seed(11)
        mod = mx.mod.Module(net(mx))
        mod.bind(data_shapes=[("data", (32, 10))], label_shapes=[("softmax_label", (32,))])
        mod.init_params(mx.init.Xavier(rnd_type="gaussian", magnitude=2.0))
        mods[mx.__name__] = numpy_params(mod)
        assert mod._aux_names == ["bn1_moving_mean", "bn1_moving_var", "bn2_moving_mean",
                                  "bn2_moving_var"]
    (aa, xa), (ab, xb) = mods["mxnet"], mods["mxopt"]
    close(aa, ab, 0, 0, "arg")  # MXNet's random stream, bit for bit
    close(xa, xb, 0, 0, "aux")
    np.testing.assert_array_equal(ab["pr1_gamma"], 0.25)  # LeakyReLU prelu's own initializer
    np.testing.assert_array_equal(ab["fc3_weight"], 0.05)  # the Variable's initializer
    np.testing.assert_array_equal(ab["bn1_gamma"], 1)
    np.testing.assert_array_equal(xb["bn1_moving_var"], 1)
    np.testing.assert_array_equal(xb["bn1_moving_mean"], 0)


@pytest.mark.parametrize("optimizer, params", [
    ("sgd", {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}),
    ("adam", {"learning_rate": 0.01, "wd": 0.01}),
])
def test_fit_matches_mxnet(optimizer, params):
    # one epoch (3 batches): Adam divides by the root of tiny second moments, and the two
    # libraries' rounding differences grow several-fold per epoch in this network
    a = numpy_params(trained(mxnet, optimizer, params, 1))
    b = numpy_params(trained(mxopt, optimizer, params, 1))
    close_to_scale(a[0], b[0], 5e-3, "arg")
    close_to_scale(a[1], b[1], 5e-3, "aux")
    # fix_gamma: forward holds gamma at 1 and its gradient is 0, so only weight decay moves it
    # (every channel alike), as in MXNet
    assert np.unique(b[0]["bn2_gamma"]).size == 1
    assert not np.allclose(b[1]["bn1_moving_mean"], 0)  # the moving statistics moved


def test_checkpoints_cross_load_and_resume_equals_uninterrupted(tmp_path):
    params = {"learning_rate": 0.05, "momentum": 0.9, "wd": 0.001}
    full = numpy_params(trained(mxopt, "sgd", params, 4))
    mod = trained(mxopt, "sgd", params, 2)
    mod.save_checkpoint(str(tmp_path / "bn"), 2, save_optimizer_states=True)
    loaded = mxopt.nd.load(str(tmp_path / "bn-0002.params"))
    assert {k for k in loaded if k.startswith("aux:")} == {
        "aux:bn1_moving_mean", "aux:bn1_moving_var", "aux:bn2_moving_mean", "aux:bn2_moving_var"}
    # resume in mxopt: load_checkpoint + begin_epoch + arg/aux params + optimizer states
    res = mxopt.mod.Module.load(str(tmp_path / "bn"), 2, load_optimizer_states=True)
    res.fit(mxopt.io.NDArrayIter(X, Y, batch_size=32), num_epoch=4, begin_epoch=2,
            optimizer="sgd", optimizer_params=params)
    resumed = numpy_params(res)
    close(full[0], resumed[0], 0, 0, "arg")
    close(full[1], resumed[1], 0, 0, "aux")
    # MXNet loads mxopt's checkpoint and computes the same outputs; mxopt loads MXNet's
    outs = {}
    for mx in (mxnet, mxopt):
        sym, args, auxs = mx.model.load_checkpoint(str(tmp_path / "bn"), 2)
        m = mx.mod.Module(sym)
        m.bind(data_shapes=[("data", (32, 10))], label_shapes=[("softmax_label", (32,))],
               for_training=False)
        m.set_params(args, auxs)
        m.forward(mx.io.DataBatch([mx.nd.array(X[:32])], [mx.nd.array(Y[:32])]), is_train=False)
        outs[mx.__name__] = m.get_outputs()[0].asnumpy()
    np.testing.assert_allclose(outs["mxopt"], outs["mxnet"], rtol=1e-5, atol=1e-6)
    theirs = trained(mxnet, "sgd", params, 2)
    theirs.save_checkpoint(str(tmp_path / "mx"), 2)
    _, args, auxs = mxopt.model.load_checkpoint(str(tmp_path / "mx"), 2)
    mine = numpy_params(theirs)
    close(mine[1], {k: v.asnumpy() for k, v in auxs.items()}, 0, 0, "aux from MXNet")


def test_several_contexts_match_mxnet():
    params = {"learning_rate": 0.1, "momentum": 0.9, "wd": 0.01}
    a = numpy_params(trained(mxnet, "sgd", params, 2, [mxnet.cpu(0), mxnet.cpu(1)]))
    b = numpy_params(trained(mxopt, "sgd", params, 2, [mxopt.cpu(0), mxopt.cpu(1)]))
    close_to_scale(a[0], b[0], 5e-3, "arg")
    close_to_scale(a[1], b[1], 5e-3, "aux (averaged over the contexts, as MXNet's get_params)")
