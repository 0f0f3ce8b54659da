"""Why the torch-free DeepAR runs on numpy rather than ONNX Runtime: the same forecast both ways.

A network of the shipped model's shape (2 LSTM layers of 40 cells, the default daily lags, Gaussian
head; random weights: speed does not depend on them) forecasts one 1,500-point series, 400 paths of 17
steps, one thread each. numpy is `engine.numpy_deepar` itself. ONNX Runtime runs the same sampling
step (both LSTM layers and the head's projection) as one graph built from the same arrays, with the
loop, the lags, the draws and the feedback in Python around it, as any ONNX export of DeepAR would
need (ONNX has no ancestral sampling). Also measured, each in a fresh interpreter: importing numpy
alone and numpy + onnxruntime (wall, and peak RSS).

onnxruntime and onnx are not project dependencies: run this in a venv that has them (with the project
on PYTHONPATH); without them it measures numpy only and says so.

Run: python bench/onnx_vs_numpy.py [--runs 15]
     python bench/onnx_vs_numpy.py --smoke      # 3 runs, 50 paths: does it still run?
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np

from nikkei_deepar.engine.blas import one_blas_thread
from nikkei_deepar.engine.inputs import InputSeries
from nikkei_deepar.engine.numpy_deepar import Manifest, NumpyDeepAR, Step

HIDDEN, LAYERS, STEPS, CONTEXT = 40, 2, 17, 20
# GluonTS's default lags for "D" (lags_seq - 1), those a 4-year series keeps
LAGS = [*range(0, 8), 12, 13, 14, 19, 20, 21, 26, 27, 28, 29, 30, 55, 83, 362, 363, 364, 726, 727, 728]


def network() -> NumpyDeepAR:
    manifest = Manifest(
        written_by={"engine": "bench"},
        freq="D",
        context_length=CONTEXT,
        prediction_length=STEPS,
        lags=LAGS,
        time_features=["day_of_week", "day_of_month", "day_of_year"],
        age_feature=True,
        num_feat_dynamic_real=0,
        static_cat=[0],
        cardinality=[1],
        embedding_dims=[1],
        static_real=[0.0],
        scaling=True,
        minimum_scale=1e-10,
        default_scale=None,
        dummy_value=0.0,
        distribution="normal",
        num_layers=LAYERS,
        hidden_size=HIDDEN,
        num_parallel_samples=100,
        nonnegative=False,
        shapes={},
    )
    rng = np.random.default_rng(0)
    arrays = {k: (rng.normal(size=s) * 0.2).astype(np.float32) for k, s in manifest.expected_shapes().items()}
    return NumpyDeepAR(manifest, arrays)


def series() -> InputSeries:
    rng = np.random.default_rng(1)
    target = (30_000 * np.exp(np.cumsum(rng.normal(0, 0.01, 1500)))).astype(np.float32)
    return InputSeries(start="2022-01-01 00:00:00", target=target)


def onnx_graph(model: NumpyDeepAR) -> bytes:
    """An ONNX graph of one step for every path: (lags, shared, h0, c0, h1, c1) -> (head arguments, h0',
    c0', h1', c1'), from the model's own arrays (what training would export beside the weights)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    nodes: list[Any] = []
    inits = []
    first = model.layers[0]
    n_lags = len(LAGS)
    width = first.w_ih.shape[0] - n_lags

    def tensor(name: str, shape: list[Any]) -> Any:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)

    inputs = [tensor("lags", ["B", n_lags]), tensor("shared", [1, width])]
    outputs = [tensor("args", ["B", model.proj_w.shape[1]])]
    inits.append(numpy_helper.from_array(first.w_ih[:n_lags], "w_lag"))
    inits.append(numpy_helper.from_array(first.w_ih[n_lags:], "w_shared"))
    nodes += [
        helper.make_node("MatMul", ["lags", "w_lag"], ["x_lag"]),
        helper.make_node("MatMul", ["shared", "w_shared"], ["x_shared"]),
        helper.make_node("Add", ["x_lag", "x_shared"], ["gx0"]),
    ]
    for i, layer in enumerate(model.layers):
        inputs += [tensor(f"h{i}", ["B", HIDDEN]), tensor(f"c{i}", ["B", HIDDEN])]
        outputs += [tensor(f"h{i}_out", ["B", HIDDEN]), tensor(f"c{i}_out", ["B", HIDDEN])]
        inits += [
            numpy_helper.from_array(layer.w_hh, f"w_hh{i}"),
            numpy_helper.from_array(layer.bias, f"b{i}"),
        ]
        if i:
            inits.append(numpy_helper.from_array(layer.w_ih, f"w_ih{i}"))
            nodes.append(helper.make_node("MatMul", [f"h{i - 1}_out", f"w_ih{i}"], [f"gx{i}"]))
        nodes += [
            helper.make_node("MatMul", [f"h{i}", f"w_hh{i}"], [f"gh{i}"]),
            helper.make_node("Add", [f"gx{i}", f"gh{i}"], [f"gs{i}"]),
            helper.make_node("Add", [f"gs{i}", f"b{i}"], [f"g{i}"]),
            helper.make_node("Split", [f"g{i}"], [f"i{i}", f"f{i}", f"z{i}", f"o{i}"], axis=1, num_outputs=4),
            helper.make_node("Sigmoid", [f"i{i}"], [f"si{i}"]),
            helper.make_node("Sigmoid", [f"f{i}"], [f"sf{i}"]),
            helper.make_node("Tanh", [f"z{i}"], [f"tz{i}"]),
            helper.make_node("Sigmoid", [f"o{i}"], [f"so{i}"]),
            helper.make_node("Mul", [f"sf{i}", f"c{i}"], [f"fc{i}"]),
            helper.make_node("Mul", [f"si{i}", f"tz{i}"], [f"iz{i}"]),
            helper.make_node("Add", [f"fc{i}", f"iz{i}"], [f"c{i}_out"]),
            helper.make_node("Tanh", [f"c{i}_out"], [f"tc{i}"]),
            helper.make_node("Mul", [f"so{i}", f"tc{i}"], [f"h{i}_out"]),
        ]
    inits += [
        numpy_helper.from_array(model.proj_w, "proj_w"),
        numpy_helper.from_array(model.proj_b, "proj_b"),
    ]
    nodes += [
        helper.make_node("MatMul", [f"h{len(model.layers) - 1}_out", "proj_w"], ["raw"]),
        helper.make_node("Add", ["raw", "proj_b"], ["args"]),
    ]
    graph = helper.make_graph(nodes, "deepar_step", inputs, outputs, inits)
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    onnx.checker.check_model(proto)
    return bytes(proto.SerializeToString())


def onnx_session(graph: bytes) -> Any:
    """What predict would do with the exported graph: one single-threaded session."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


def onnx_sample(model: NumpyDeepAR, session: Any, data: InputSeries, paths: int, seed: int) -> Any:
    """`NumpyDeepAR.unroll`'s loop with each step's network in ONNX Runtime (the context unrolled by numpy,
    as it is run once per forecast)."""
    m = model.manifest
    first, state, scaled, static, future_feat = model._context(data)
    rng = np.random.default_rng(seed)
    history = np.empty((paths, m.past_length + m.prediction_length), dtype=np.float32)
    history[:, : m.past_length] = scaled
    feed = {}
    for i, (h, c) in enumerate(state):
        feed[f"h{i}"], feed[f"c{i}"] = np.repeat(h, paths, axis=0), np.repeat(c, paths, axis=0)
    step = Step({k: np.repeat(v, paths) for k, v in first.params.items()}, first.scale)
    samples = np.empty((paths, m.prediction_length), dtype=np.float32)
    for k in range(m.prediction_length):
        value = model.head.draw(step.params, step.scale, rng).astype(np.float32)
        samples[:, k] = value
        if k == m.prediction_length - 1:
            break
        position = m.past_length + k
        history[:, position] = value / first.scale
        feed["lags"] = history[:, position - np.asarray(m.lags)]
        feed["shared"] = np.concatenate([static, future_feat[k + 1]]).astype(np.float32)[None, :]
        args, *states = session.run(None, feed)
        for i in range(len(model.layers)):
            feed[f"h{i}"], feed[f"c{i}"] = states[2 * i], states[2 * i + 1]
        step = Step(model.head.domain_map([args[:, i] for i in range(args.shape[1])]), first.scale)
    return samples


def fresh(modules: str) -> tuple[float, float]:
    """(seconds to import `modules`, the process's peak RSS in MB) in a fresh interpreter. The peak is
    the child's own VmHWM (Linux): a child's rusage would count the parent it was forked from."""
    code = (
        "import time; t = time.perf_counter(); import " + modules + "; t = time.perf_counter() - t; "
        "hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM')][0].split()[1]; "
        "print(t, int(hwm) / 1024)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    seconds, peak = out.split()
    return float(seconds), float(peak)


def timed(fn: Any, runs: int) -> list[float]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return times


def ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="3 runs of 50 paths (seconds)")
    args = parser.parse_args()
    runs, paths = (3, 50) if args.smoke else (args.runs, 400)
    model, data = network(), series()
    have_ort = all(importlib.util.find_spec(name) for name in ("onnxruntime", "onnx"))
    with one_blas_thread():
        mine = timed(lambda: model.sample(data, num_samples=paths, seed=3), runs)
        print(f"numpy (engine.numpy_deepar), {paths} paths x {STEPS} steps: {ms(mine)}")
        if have_ort:
            import onnxruntime

            graph = onnx_graph(model)
            sessions = timed(lambda: onnx_session(graph), runs)
            session = onnx_session(graph)
            theirs = timed(lambda: onnx_sample(model, session, data, paths, 3), runs)
            ort_paths = onnx_sample(model, session, data, paths, 3)
            gap = np.abs(ort_paths / model.sample(data, num_samples=paths, seed=3) - 1)
            print(
                f"onnxruntime {onnxruntime.__version__}, same loop: {ms(theirs)}; session from the graph "
                f"{ms(sessions)}; largest relative difference from numpy's paths {float(gap.max()):.1g}"
            )
    for modules in ("numpy", "numpy, onnxruntime"):
        if "onnxruntime" in modules and not have_ort:
            print("onnxruntime or onnx is not installed: numpy measured alone")
            continue
        seconds, peaks = zip(*(fresh(modules) for _ in range(max(3, runs // 3))), strict=True)
        print(f"import {modules}, fresh interpreter: {ms(list(seconds))}, peak RSS {max(peaks):.0f} MB")


if __name__ == "__main__":
    main()
