"""A trained GluonTS DeepAR served on numpy: the archive's torch-free weights, the forward pass, sampling.

At train time `engine.export` writes, beside GluonTS's own files, `numpy-deepar.json` (this format's
manifest: version, what wrote it, every setting inference needs, each array's shape) and
`numpy-deepar-weights.npz` (the network's float32 arrays). `NumpyDeepAR.load` reads them back, checked
(a missing, truncated or misshapen file is one `ModelFileError` line), and `sample` does what
`gluonts.torch.model.deepar.DeepARModel.forward` does, in the same order and in float32:

- the input window: the last `context_length + max(lag)` points, padded on the left with GluonTS's
  dummy value (0, unobserved) when the series is shorter; missing values (NaN) become that value too;
- mean scaling over the context window's observed points (`MeanScaler`: at least `minimum_scale`);
- the RNN input per step: the lagged scaled target, then the static features (the categorical
  embedding of GluonTS's dummy category, the dummy static real, log(scale)), then the time features
  of the step being predicted (`engine.time_features`, the log10 age, then any dynamic_feat rows);
- the LSTM layers (torch's gate order i, f, g, o) unrolled over the context, the distribution head's
  projection and domain map (Student-t, Gaussian, negative binomial), then ancestral sampling: each of
  the `num_samples` paths draws a step from a seeded `numpy.random.Generator` and feeds it back.

Numbers are GluonTS's to 1e-5 on the first step's distribution; sample paths are a different random
stream (numpy's, not torch's), equal in distribution: tests/engine/test_numpy_deepar.py checks both.
Imports numpy only: no torch, lightning, gluonts or pandas. No I/O beyond the bytes it is given.
"""

from __future__ import annotations

import io
import json
import math
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from nikkei_deepar.engine.inputs import InputSeries
from nikkei_deepar.engine.time_features import supported, time_features
from nikkei_deepar.errors import ModelFileError

MANIFEST = "numpy-deepar.json"
WEIGHTS = "numpy-deepar-weights.npz"
FORMAT = "nikkei-deepar/numpy-deepar"
FORMAT_VERSION = 1
WEIGHTS_HINT = "train the model again (`nikkei-deepar train`): training writes these files"

F32 = np.float32
Array = NDArray[np.float32]
_EPS32 = float(np.finfo(np.float32).eps)
_MAX_WEIGHT_BYTES = 64 * 1024 * 1024


# --------------------------------------------------------------------------- distribution heads


def _softplus(x: Array) -> Array:
    # torch.nn.functional.softplus (beta 1, threshold 20)
    return np.where(x > 20, x, np.log1p(np.exp(np.minimum(x, F32(20))))).astype(F32)


@dataclass(frozen=True)
class Head:
    """A GluonTS `DistributionOutput`: its projected arguments, their domain map, and how to draw one value
    per path given those parameters and the mean scale."""

    args: tuple[str, ...]
    domain_map: Callable[[list[Array]], dict[str, Array]]
    draw: Callable[[dict[str, Array], Array, np.random.Generator], NDArray[np.float64]]


def _student_t_map(raw: list[Array]) -> dict[str, Array]:
    df, loc, scale = raw
    return {"df": F32(2.0) + _softplus(df), "loc": loc, "scale": np.maximum(_softplus(scale), F32(_EPS32))}


def _student_t_draw(p: dict[str, Array], scale: Array, rng: np.random.Generator) -> NDArray[np.float64]:
    # AffineTransformed(StudentT(df, loc, s), scale=mean scale): y = mean scale * (loc + s * t)
    t = rng.standard_t(p["df"].astype(np.float64))
    return np.asarray(scale * (p["loc"] + p["scale"] * t), dtype=np.float64)


def _normal_map(raw: list[Array]) -> dict[str, Array]:
    loc, scale = raw
    return {"loc": loc, "scale": _softplus(scale)}


def _normal_draw(p: dict[str, Array], scale: Array, rng: np.random.Generator) -> NDArray[np.float64]:
    z = rng.standard_normal(p["loc"].shape)
    return np.asarray(scale * (p["loc"] + p["scale"] * z), dtype=np.float64)


def _negative_binomial_map(raw: list[Array]) -> dict[str, Array]:
    total_count, logits = raw
    return {"total_count": _softplus(total_count), "logits": logits}


def _negative_binomial_draw(
    p: dict[str, Array], scale: Array, rng: np.random.Generator
) -> NDArray[np.float64]:
    # GluonTS scales the logits, not the value (counts stay integers); torch draws Poisson(Gamma(r, e^l))
    logits = p["logits"].astype(np.float64) + math.log(float(scale))
    rate = rng.gamma(p["total_count"].astype(np.float64), np.exp(logits))
    return rng.poisson(rate).astype(np.float64)


HEADS: dict[str, Head] = {
    "student-t": Head(("df", "loc", "scale"), _student_t_map, _student_t_draw),
    "normal": Head(("loc", "scale"), _normal_map, _normal_draw),
    "negative-binomial": Head(("total_count", "logits"), _negative_binomial_map, _negative_binomial_draw),
}


# --------------------------------------------------------------------------- the manifest


@dataclass(frozen=True)
class Manifest:
    """What `numpy-deepar.json` says: everything inference needs besides the arrays."""

    written_by: dict[str, str]
    freq: str
    context_length: int
    prediction_length: int
    lags: list[int]  # GluonTS's lag indices (lags_seq - 1): 0 is the latest value
    time_features: list[str]
    age_feature: bool
    num_feat_dynamic_real: int  # the request's dynamic_feat rows
    static_cat: list[int]  # GluonTS's dummy category per categorical feature
    cardinality: list[int]
    embedding_dims: list[int]
    static_real: list[float]
    scaling: bool
    minimum_scale: float
    default_scale: float | None
    dummy_value: float
    distribution: str
    num_layers: int
    hidden_size: int
    num_parallel_samples: int  # GluonTS's default sample count (a request says its own)
    nonnegative: bool
    shapes: dict[str, tuple[int, ...]]

    @property
    def past_length(self) -> int:
        return self.context_length + max(self.lags)

    @property
    def num_time_rows(self) -> int:
        return len(self.time_features) + int(self.age_feature) + self.num_feat_dynamic_real

    def expected_shapes(self) -> dict[str, tuple[int, ...]]:
        """The arrays a network of these settings has, by name."""
        hidden = self.hidden_size
        static = sum(self.embedding_dims) + len(self.static_real) + 1  # + log(scale)
        shapes: dict[str, tuple[int, ...]] = {}
        for layer in range(self.num_layers):
            width = len(self.lags) + static + self.num_time_rows if layer == 0 else hidden
            shapes[f"rnn.weight_ih_l{layer}"] = (4 * hidden, width)
            shapes[f"rnn.weight_hh_l{layer}"] = (4 * hidden, hidden)
            shapes[f"rnn.bias_ih_l{layer}"] = (4 * hidden,)
            shapes[f"rnn.bias_hh_l{layer}"] = (4 * hidden,)
        for i, _ in enumerate(HEADS[self.distribution].args):
            shapes[f"proj.{i}.weight"] = (1, hidden)
            shapes[f"proj.{i}.bias"] = (1,)
        for i, (rows, dim) in enumerate(zip(self.cardinality, self.embedding_dims, strict=True)):
            shapes[f"embedding.{i}.weight"] = (rows, dim)
        return shapes


def manifest_document(manifest: Manifest) -> dict[str, Any]:
    """The JSON that `Manifest.parse` reads back."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "written_by": manifest.written_by,
        "freq": manifest.freq,
        "context_length": manifest.context_length,
        "prediction_length": manifest.prediction_length,
        "lags": manifest.lags,
        "time_features": manifest.time_features,
        "age_feature": manifest.age_feature,
        "num_feat_dynamic_real": manifest.num_feat_dynamic_real,
        "static_cat": manifest.static_cat,
        "cardinality": manifest.cardinality,
        "embedding_dims": manifest.embedding_dims,
        "static_real": manifest.static_real,
        "scaling": {
            "kind": "mean" if manifest.scaling else "none",
            "minimum_scale": manifest.minimum_scale,
            "default_scale": manifest.default_scale,
        },
        "dummy_value": manifest.dummy_value,
        "distribution": manifest.distribution,
        "num_layers": manifest.num_layers,
        "hidden_size": manifest.hidden_size,
        "num_parallel_samples": manifest.num_parallel_samples,
        "nonnegative_pred_samples": manifest.nonnegative,
        "arrays": {name: list(shape) for name, shape in manifest.shapes.items()},
    }


def _parse_manifest(doc: Any) -> Manifest:
    """The manifest, every field checked; ValueError/KeyError/TypeError say what is wrong."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ValueError(f"it does not name the format {FORMAT}")
    if doc.get("format_version") != FORMAT_VERSION:
        raise ValueError(f"format version {doc.get('format_version')!r}, this tool reads {FORMAT_VERSION}")

    def integer(key: str, value: Any = None, minimum: int = 1) -> int:
        value = doc[key] if value is None else value
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ValueError(f"{key} is {value!r}")
        return value

    def number(key: str, value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise ValueError(f"{key} is {value!r}")
        return float(value)

    def flag(key: str) -> bool:
        if not isinstance(doc[key], bool):
            raise ValueError(f"{key} is {doc[key]!r}")
        return bool(doc[key])

    def strings(key: str) -> list[str]:
        value = doc[key]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ValueError(f"{key} is {value!r}")
        return list(value)

    lags = [integer("lags", v, minimum=0) for v in doc["lags"]]
    scaling = doc["scaling"]
    if not lags or not isinstance(scaling, dict) or scaling.get("kind") not in ("mean", "none"):
        raise ValueError("lags or scaling are malformed")
    default = scaling.get("default_scale")
    arrays = doc["arrays"]
    if not isinstance(arrays, dict):
        raise ValueError("arrays is not an object")
    shapes = {str(k): tuple(integer(f"arrays.{k}", d, minimum=0) for d in v) for k, v in arrays.items()}
    written_by = doc["written_by"]
    if not isinstance(written_by, dict):
        raise ValueError("written_by is not an object")
    manifest = Manifest(
        written_by={str(k): str(v) for k, v in written_by.items()},
        freq=str(doc["freq"]),
        context_length=integer("context_length"),
        prediction_length=integer("prediction_length"),
        lags=lags,
        time_features=strings("time_features"),
        age_feature=flag("age_feature"),
        num_feat_dynamic_real=integer("num_feat_dynamic_real", minimum=0),
        static_cat=[integer("static_cat", v, minimum=0) for v in doc["static_cat"]],
        cardinality=[integer("cardinality", v) for v in doc["cardinality"]],
        embedding_dims=[integer("embedding_dims", v) for v in doc["embedding_dims"]],
        static_real=[number("static_real", v) for v in doc["static_real"]],
        scaling=scaling["kind"] == "mean",
        minimum_scale=number("minimum_scale", scaling["minimum_scale"]),
        default_scale=None if default is None else number("default_scale", default),
        dummy_value=number("dummy_value", doc["dummy_value"]),
        distribution=str(doc["distribution"]),
        num_layers=integer("num_layers"),
        hidden_size=integer("hidden_size"),
        num_parallel_samples=integer("num_parallel_samples"),
        nonnegative=flag("nonnegative_pred_samples"),
        shapes=shapes,
    )
    if manifest.distribution not in HEADS:
        raise ValueError(f"distribution {manifest.distribution!r} is not one of {', '.join(HEADS)}")
    cats = (manifest.static_cat, manifest.cardinality, manifest.embedding_dims)
    if len({len(c) for c in cats}) != 1 or any(
        c >= n for c, n in zip(manifest.static_cat, manifest.cardinality, strict=True)
    ):
        raise ValueError("static_cat, cardinality and embedding_dims do not agree")
    if not supported(manifest.freq, manifest.time_features):
        raise ValueError(f"time features {manifest.time_features} at {manifest.freq!r} are not supported")
    return manifest


# --------------------------------------------------------------------------- the network


@dataclass(frozen=True)
class _Layer:
    w_ih: Array  # in x 4H (transposed once, for x @ w)
    w_hh: Array  # H x 4H
    bias: Array  # 4H: torch's two biases, added once


@dataclass(frozen=True)
class Step:
    """One step's distribution for every path: the head's parameters (before the mean scale) and the scale."""

    params: dict[str, Array]
    scale: Array


class NumpyDeepAR:
    """A DeepAR network read from an archive's torch-free files; `sample` forecasts one series."""

    def __init__(self, manifest: Manifest, arrays: Mapping[str, Array]) -> None:
        self.manifest = manifest
        self.head = HEADS[manifest.distribution]
        hidden = manifest.hidden_size
        self.layers = [
            _Layer(
                w_ih=np.ascontiguousarray(arrays[f"rnn.weight_ih_l{i}"].T),
                w_hh=np.ascontiguousarray(arrays[f"rnn.weight_hh_l{i}"].T),
                bias=(arrays[f"rnn.bias_ih_l{i}"] + arrays[f"rnn.bias_hh_l{i}"]).astype(F32),
            )
            for i in range(manifest.num_layers)
        ]
        n_args = len(self.head.args)
        self.proj_w = np.concatenate([arrays[f"proj.{i}.weight"] for i in range(n_args)]).T.copy()  # H x A
        self.proj_b = np.concatenate([arrays[f"proj.{i}.bias"] for i in range(n_args)])
        embedded = [arrays[f"embedding.{i}.weight"][c] for i, c in enumerate(manifest.static_cat)]
        # the static features but log(scale), which is the series'
        self.static = np.concatenate([*embedded, np.asarray(manifest.static_real, dtype=F32)]).astype(F32)
        assert self.proj_w.shape == (hidden, n_args)

    @classmethod
    def load(cls, files: Mapping[str, bytes], *, where: str) -> NumpyDeepAR:
        """The network from an archive's files (`where` names the archive): ModelFileError if the
        manifest or the weights are missing, unreadable, or not the shapes the manifest's settings need."""

        def refuse(why: str) -> ModelFileError:
            return ModelFileError(f"{where}: its torch-free weights cannot be used: {why}", hint=WEIGHTS_HINT)

        for name in (MANIFEST, WEIGHTS):
            if name not in files:
                raise refuse(f"no {name}")
        try:
            manifest = _parse_manifest(json.loads(files[MANIFEST]))
        except (ValueError, KeyError, TypeError) as exc:
            raise refuse(f"{MANIFEST} is malformed ({exc})") from None
        if len(files[WEIGHTS]) > _MAX_WEIGHT_BYTES:
            raise refuse(f"{WEIGHTS} is too large")
        try:
            with np.load(io.BytesIO(files[WEIGHTS]), allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile) as exc:
            raise refuse(f"{WEIGHTS} is unreadable ({exc})") from None
        expected = manifest.expected_shapes()
        if manifest.shapes != expected:
            raise refuse(f"{MANIFEST}'s arrays do not fit its settings")
        if set(arrays) != set(expected):
            missing, extra = sorted(set(expected) - set(arrays)), sorted(set(arrays) - set(expected))
            raise refuse(f"{WEIGHTS} lacks {missing} or has extra {extra}")
        for name, shape in expected.items():
            array = arrays[name]
            if array.dtype != F32 or array.shape != shape:
                raise refuse(f"{name} is {array.dtype}{list(array.shape)}, expected float32{list(shape)}")
            if not np.isfinite(array).all():
                raise refuse(f"{name} holds values that are not finite")
        return cls(manifest, arrays)

    # -- inputs ----------------------------------------------------------------------------------------
    def _window(self, series: InputSeries) -> tuple[Array, Array, Array, Array]:
        """(scaled past target over past_length, the scale, time features of the context's steps, time
        features of the forecast's steps), as GluonTS's transformation and instance splitter make them."""
        m = self.manifest
        n, past, horizon = len(series.target), m.past_length, m.prediction_length
        observed = (~np.isnan(series.target)).astype(F32)
        target = np.where(np.isnan(series.target), F32(m.dummy_value), series.target).astype(F32)
        if n < past:  # padded on the left, unobserved
            target = np.concatenate([np.full(past - n, m.dummy_value, dtype=F32), target])
            observed = np.concatenate([np.zeros(past - n, dtype=F32), observed])
        target, observed = target[-past:], observed[-past:]
        scale = self._scale(target[-m.context_length :], observed[-m.context_length :])
        rows = [time_features(series.start, m.freq, m.time_features, n + horizon)]
        if m.age_feature:
            rows.append(np.log10(F32(2.0) + np.arange(n + horizon, dtype=F32)).reshape(1, -1))
        if m.num_feat_dynamic_real:
            assert series.dynamic_feat is not None  # checked by parse_request
            rows.append(series.dynamic_feat.astype(F32))
        features = np.vstack(rows).T  # time x rows
        # a step's input carries the features of the step it predicts: the context's last C-1 and the first
        # forecast step, then each forecast step in turn
        context_feat = features[n - (m.context_length - 1) : n + 1]
        return (target / scale).astype(F32), scale, context_feat, features[n:]

    def _scale(self, context: Array, observed: Array) -> Array:
        m = self.manifest
        if not m.scaling:
            return np.asarray(1.0, dtype=F32)
        total = np.abs(context * observed).sum(dtype=F32)
        count = observed.sum(dtype=F32)
        if count > 0:
            scale = total / max(count, F32(1.0))
        elif m.default_scale is not None:
            scale = F32(m.default_scale)
        else:  # GluonTS's batch scale: one series per batch here, so its own (zero)
            scale = total / F32(1.0)
        return np.asarray(max(F32(scale), F32(m.minimum_scale)), dtype=F32)

    # -- the network -----------------------------------------------------------------------------------
    def _cell(self, layer: _Layer, gates_x: Array, h: Array, c: Array) -> tuple[Array, Array]:
        gates = gates_x + h @ layer.w_hh
        i, f, g, o = np.split(gates, 4, axis=-1)
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        return h.astype(F32), c.astype(F32)

    def _head(self, h: Array) -> dict[str, Array]:
        raw = h @ self.proj_w + self.proj_b
        return self.head.domain_map([raw[..., i].astype(F32) for i in range(raw.shape[-1])])

    def _context(self, series: InputSeries) -> tuple[Step, list[tuple[Array, Array]], Array, Array, Array]:
        """Unroll over the context: the first forecast step's distribution, the LSTM state, the scaled past,
        the static features with log(scale), and the forecast steps' time features."""
        m = self.manifest
        scaled, scale, context_feat, future_feat = self._window(series)
        positions = np.arange(m.past_length - m.context_length, m.past_length)
        lags = scaled[positions[:, None] - np.asarray(m.lags)[None, :]]  # context x lags
        static = np.concatenate([self.static, np.log(scale, dtype=F32).reshape(1)])
        x = np.concatenate(
            [lags, np.broadcast_to(static, (m.context_length, static.size)), context_feat], axis=1
        ).astype(F32)
        state = []
        for layer in self.layers:
            gates_x = x @ layer.w_ih + layer.bias
            h = np.zeros((1, m.hidden_size), dtype=F32)
            c = np.zeros((1, m.hidden_size), dtype=F32)
            outputs = []
            for t in range(m.context_length):
                h, c = self._cell(layer, gates_x[t : t + 1], h, c)
                outputs.append(h)
            x = np.concatenate(outputs)
            state.append((h, c))
        return Step(self._head(x[-1:]), scale), state, scaled, static, future_feat

    def first_step(self, series: InputSeries) -> Step:
        """The first forecast step's distribution (for one path)."""
        return self._context(series)[0]

    def unroll(
        self, series: InputSeries, *, paths: int, draw: Callable[[Step, int], NDArray[np.float64]]
    ) -> Array:
        """`paths` sample paths (paths x prediction_length, float32): `draw(step, k)` gives step k's values
        (one per path) from its distribution, and each is fed back as the next step's lag 1."""
        m = self.manifest
        first, state, scaled, static, future_feat = self._context(series)
        scale = first.scale
        history = np.empty((paths, m.past_length + m.prediction_length), dtype=F32)
        history[:, : m.past_length] = scaled
        states = [(np.repeat(h, paths, axis=0), np.repeat(c, paths, axis=0)) for h, c in state]
        lag_columns = np.asarray(m.lags)
        samples = np.empty((paths, m.prediction_length), dtype=F32)
        step = Step({k: np.repeat(v, paths) for k, v in first.params.items()}, scale)
        first_layer = self.layers[0]
        n_lags = len(m.lags)
        for k in range(m.prediction_length):
            value = draw(step, k).astype(F32)
            samples[:, k] = value
            if k == m.prediction_length - 1:
                break
            position = m.past_length + k
            history[:, position] = value / scale
            lags = history[:, position - lag_columns]
            # the static and time features are the same on every path: their part of the gates once
            shared = np.concatenate([static, future_feat[k + 1]]).astype(F32)
            x_gates = lags @ first_layer.w_ih[:n_lags] + (
                shared @ first_layer.w_ih[n_lags:] + first_layer.bias
            )
            for i, layer in enumerate(self.layers):
                if i:
                    x_gates = states[i - 1][0] @ layer.w_ih + layer.bias
                states[i] = self._cell(layer, x_gates.astype(F32), *states[i])
            step = Step(self._head(states[-1][0]), scale)
        if m.nonnegative:
            samples = np.maximum(samples, F32(0.0))
        return samples

    def sample(self, series: InputSeries, *, num_samples: int, seed: int) -> NDArray[np.float64]:
        """`num_samples` paths (num_samples x prediction_length) for one series, from a Generator seeded
        with `seed`: the same series, model and seed give the same paths, bit for bit."""
        rng = np.random.default_rng(seed)

        def draw(step: Step, k: int) -> NDArray[np.float64]:
            return self.head.draw(step.params, step.scale, rng)

        return self.unroll(series, paths=num_samples, draw=draw).astype(np.float64)


def _sigmoid(x: Array) -> Array:
    # 0.5 * (1 + tanh(x / 2)): the logistic function without exp overflow for large |x|
    result: Array = (F32(0.5) * (F32(1.0) + np.tanh(F32(0.5) * x))).astype(F32)
    return result
