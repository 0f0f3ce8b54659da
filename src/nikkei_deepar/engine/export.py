"""At train time: the trained GluonTS predictor's network and inference settings in a torch-free form.

`numpy_files(predictor, written_by=...)` returns the two files `engine.numpy_deepar` serves from
(`numpy-deepar.json`, `numpy-deepar-weights.npz`), read off the predictor itself rather than assumed:
the LSTM's and the distribution head's weights, the embedding, the lags, the scaler, the time features
its transformation adds, the dummy value the instance splitter pads with. Anything it does not
recognise (another transformation chain, scaler, head or RNN) raises `Unexportable`: the engine then
writes the archive without these files, and predict serves it through GluonTS with a note.

Called by `engine.gluon.train` with objects it already has; imports torch-side classes only to check
types, inside the function. Writes nothing itself.
"""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import numpy as np

from nikkei_deepar.engine.numpy_deepar import HEADS, MANIFEST, WEIGHTS, Manifest, manifest_document
from nikkei_deepar.engine.time_features import FEATURES, supported

# GluonTS DistributionOutput class -> this format's head
_HEAD_OF = {
    "StudentTOutput": "student-t",
    "NormalOutput": "normal",
    "NegativeBinomialOutput": "negative-binomial",
}
# The transformation chain DeepAREstimator builds (0.17), by class name, in order
_CHAIN = [
    "RemoveFields",
    "SetField",
    "SetField",
    "AsNumpyArray",
    "AsNumpyArray",
    "AsNumpyArray",
    "AddObservedValuesIndicator",
    "AddTimeFeatures",
    "AddAgeFeature",
    "VstackFeatures",
    "AsNumpyArray",
    "InstanceSplitter",
]


class Unexportable(Exception):
    """The predictor holds something the numpy inference does not reproduce (the message says what)."""


def numpy_files(predictor: Any, *, freq: str, written_by: dict[str, str]) -> dict[str, bytes]:
    """{file name: bytes} of the torch-free form of `predictor` (trained at `freq`, GluonTS's spelling);
    `Unexportable` if it cannot have one. The same predictor gives the same bytes."""
    model = predictor.prediction_net.model
    steps = list(predictor.input_transform.transformations)
    names = [type(t).__name__ for t in steps]
    if names != _CHAIN:
        raise Unexportable(f"an unexpected transformation chain: {', '.join(names)}")
    by_field = {t.output_field: t.value for t in steps if type(t).__name__ == "SetField"}
    observed, time_feat, age, vstack, splitter = (steps[i] for i in (6, 7, 8, 9, 11))
    imputation = observed.imputation_method
    if type(imputation).__name__ != "DummyValueImputation":
        raise Unexportable(f"missing values imputed by {type(imputation).__name__}")
    features = [f.__name__ for f in time_feat.date_features]
    if any(f.__module__ != "gluonts.time_feature._base" for f in time_feat.date_features):
        raise Unexportable(f"time features outside gluonts.time_feature: {features}")
    extra_rows = [f for f in vstack.input_fields if f not in (time_feat.output_field, age.feature_name)]
    if (
        list(vstack.input_fields[:2]) != [time_feat.output_field, age.feature_name]
        or extra_rows not in ([], ["feat_dynamic_real"])
        or not age.log_scale
    ):
        raise Unexportable(f"time feature rows {vstack.input_fields} (age log scale {age.log_scale})")
    if splitter.lead_time != 0 or splitter.past_length != model._past_length:
        raise Unexportable("the instance splitter's lead time or past length")
    if float(splitter.dummy_value) != float(imputation.dummy_value):
        raise Unexportable("padding and imputation use different dummy values")

    head = _HEAD_OF.get(type(model.distr_output).__name__)
    if head is None:
        raise Unexportable(f"the distribution {type(model.distr_output).__name__}")
    scaler = type(model.scaler).__name__
    if scaler not in ("MeanScaler", "NOPScaler"):
        raise Unexportable(f"the scaler {scaler}")
    rnn = model.rnn
    if (
        type(rnn).__name__ != "LSTM"
        or not rnn.batch_first
        or rnn.bidirectional
        or not rnn.bias
        or getattr(rnn, "proj_size", 0)
    ):
        raise Unexportable("an RNN other than a plain batch-first LSTM")
    proj = list(model.param_proj.proj)
    if len(proj) != len(HEADS[head].args) or any(p.out_features != 1 for p in proj):
        raise Unexportable("the distribution head's projection")

    arrays: dict[str, np.ndarray[Any, Any]] = {}
    for layer in range(rnn.num_layers):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            arrays[f"rnn.{kind}_l{layer}"] = _array(getattr(rnn, f"{kind}_l{layer}"))
    for i, linear in enumerate(proj):
        arrays[f"proj.{i}.weight"] = _array(linear.weight)
        arrays[f"proj.{i}.bias"] = _array(linear.bias)
    embedders = list(model.embedder._embedders)
    for i, embedding in enumerate(embedders):
        arrays[f"embedding.{i}.weight"] = _array(embedding.weight)

    static_cat = [int(c) for c in np.asarray(by_field.get("feat_static_cat", []), dtype=np.int64).ravel()]
    static_real = [float(v) for v in np.asarray(by_field.get("feat_static_real", []), dtype=float).ravel()]
    manifest = Manifest(
        written_by=written_by,
        freq=freq,
        context_length=int(model.context_length),
        prediction_length=int(model.prediction_length),
        lags=[int(lag) for lag in model.lags_seq],
        time_features=features,
        age_feature=True,
        num_feat_dynamic_real=int(model.num_feat_dynamic_real) - len(features) - 1 if extra_rows else 0,
        static_cat=static_cat,
        cardinality=[int(e.num_embeddings) for e in embedders],
        embedding_dims=[int(e.embedding_dim) for e in embedders],
        static_real=static_real,
        scaling=scaler == "MeanScaler",
        minimum_scale=float(getattr(model.scaler, "minimum_scale", 0.0)),
        default_scale=getattr(model.scaler, "default_scale", None),
        dummy_value=float(imputation.dummy_value),
        distribution=head,
        num_layers=int(rnn.num_layers),
        hidden_size=int(rnn.hidden_size),
        num_parallel_samples=int(model.num_parallel_samples),
        nonnegative=bool(model.nonnegative_pred_samples),
        shapes={name: tuple(int(d) for d in a.shape) for name, a in arrays.items()},
    )
    if not supported(freq, features) or any(f not in FEATURES for f in features):
        raise Unexportable(f"time features {features} at frequency {freq!r}")
    if manifest.shapes != manifest.expected_shapes():
        raise Unexportable("the network's arrays do not have the shapes its settings imply")
    document = json.dumps(manifest_document(manifest), indent=2, sort_keys=True) + "\n"
    return {MANIFEST: document.encode(), WEIGHTS: _npz(arrays)}


def _npz(arrays: dict[str, np.ndarray[Any, Any]]) -> bytes:
    """What `np.savez` writes, with fixed timestamps (savez stamps the current time): the same arrays
    give the same bytes, as the archive promises."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, mode="w", compression=zipfile.ZIP_STORED) as npz:
        for name in sorted(arrays):
            member = io.BytesIO()
            np.lib.format.write_array(member, arrays[name], allow_pickle=False)
            npz.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    return buffer.getvalue()


def _array(tensor: Any) -> np.ndarray[Any, Any]:
    return np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype=np.float32)
