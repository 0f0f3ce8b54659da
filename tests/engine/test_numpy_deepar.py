"""The torch-free DeepAR (engine.numpy_deepar, served by engine.serving) against GluonTS's own predictor.

Fixture models are trained here, tiny (8 cells, 1 epoch of 3 batches: a few seconds each), one per case:
Student-t on prices with calendar-day NaN gaps (2 LSTM layers); Gaussian on log returns with the tool's
three calendar dynamic_feat rows; negative binomial on counts. On each:

- the first forecast step's distribution parameters (and the mean scale) equal GluonTS's within 1e-5
  (relative to the parameter's size, at least 1e-5 absolute): the lags, padding, scaling, time
  features, embedding, LSTM and head all meet there;
- every later step's parameters too, given the same path (teacher forcing: GluonTS's
  `unroll_lagged_rnn` with that path as future target, numpy's sampling loop with a `draw` that
  replays it), so the feedback of samples into the lags is checked without any randomness;
- the quantiles of 400 sample paths match GluonTS's within a Monte-Carlo tolerance. The two engines
  draw from different random streams (numpy's, torch's), so their sample quantiles differ by chance.
  For one engine, the sample q-quantile of n paths has standard error sqrt(q(1-q)/n) / f(x_q), f the
  density at the quantile; the difference of two independent estimates has sqrt(2) times that. f is
  estimated from both engines' 2n pooled paths by the spacing estimator f = 2h / (Q(q+h) - Q(q-h)),
  h = 0.05 (about 80 paths between the two order statistics, so f is good to ~11%). Tolerance:
  K = 5 such standard errors. Over the ~100 comparisons here, a 5-sigma miss by chance has
  probability ~6e-7 each (about 1e-4 in all, and the streams are seeded: a pass stays a pass). The
  negative binomial's counts are integers: its tolerance also allows one count for the lattice.

400 paths can only see gross errors (at the 0.9 quantile, K standard errors are about 0.6 of the
distribution's own spread: a 15% error in a scale passes). The exact checks above pin the network and
the feedback of samples (on these barely trained fixtures a one-step lag error hides inside the
Monte-Carlo tolerance; it fails them), and each head's random draw is checked on its own against
torch's distribution with 200,000 draws, where the same tolerance is 22 times tighter (a 3% scale
error fails).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import local_extra

pytestmark = pytest.mark.local
local_extra.require()

from nikkei_deepar.engine import gluon as engine  # noqa: E402
from nikkei_deepar.engine import serving  # noqa: E402
from nikkei_deepar.engine.archive import MARKER, read_archive, write_archive  # noqa: E402
from nikkei_deepar.engine.inputs import parse_request  # noqa: E402
from nikkei_deepar.engine.numpy_deepar import MANIFEST, WEIGHTS, NumpyDeepAR, Step  # noqa: E402
from nikkei_deepar.errors import DataError, ModelFileError  # noqa: E402

H = 7
DAYS = 300
START = "2022-01-01 00:00:00"
PATHS = 400
K = 5.0
LEVELS = (0.1, 0.25, 0.5, 0.75, 0.9)
BASE = {
    "time_freq": "D",
    "prediction_length": str(H),
    "context_length": "14",
    "epochs": "1",
    "num_cells": "8",
    "num_layers": "1",
    "mini_batch_size": "16",
    "num_eval_samples": "50",
}


def _walk() -> np.ndarray[Any, Any]:
    rng = np.random.default_rng(7)
    return 20_000 * np.exp(np.cumsum(rng.normal(0, 0.01, DAYS)))


def _gaps(values: np.ndarray[Any, Any]) -> list[Any]:
    """Weekends and ~5% of other days missing, as a calendar-day series has them."""
    rng = np.random.default_rng(8)
    weekday = (np.arange(len(values)) + 5) % 7  # START is a Saturday
    missing = (weekday >= 5) | (rng.random(len(values)) < 0.05)
    return [
        "NaN" if gap or not math.isfinite(v) else round(float(v), 6)
        for v, gap in zip(values, missing, strict=True)
    ]


def _calendar_rows(length: int) -> list[list[float]]:
    from nikkei_deepar.data.calendar import calendar_features

    first = dt.date(2022, 1, 1)
    return calendar_features([first + dt.timedelta(days=i) for i in range(length)])


def _case_student_t() -> tuple[dict[str, str], dict[str, Any]]:
    return {**BASE, "likelihood": "student-T", "num_layers": "2"}, {"start": START, "target": _gaps(_walk())}


def _case_gaussian_returns() -> tuple[dict[str, str], dict[str, Any]]:
    from nikkei_deepar.data.returns import to_log_returns

    returns = _gaps(to_log_returns(_walk()))
    return {**BASE, "likelihood": "gaussian"}, {"start": START, "target": returns}


def _case_negative_binomial() -> tuple[dict[str, str], dict[str, Any]]:
    rng = np.random.default_rng(9)
    counts = rng.poisson(20 + 10 * np.sin(np.arange(DAYS) / 9)).astype(float).tolist()
    return {**BASE, "likelihood": "negative-binomial"}, {"start": START, "target": counts}


CASES: dict[str, Callable[[], tuple[dict[str, str], dict[str, Any]]]] = {
    "student-t prices": _case_student_t,
    "gaussian log returns + calendar dynamic_feat": _case_gaussian_returns,
    "negative binomial counts": _case_negative_binomial,
}


class Case:
    """A trained fixture model, its request series and GluonTS's predictor for it."""

    def __init__(self, name: str, out: Path) -> None:
        self.name = name
        hyperparameters, series = CASES[name]()
        self.features = "dynamic_feat" in name
        train = {"start": START, "target": series["target"][:-H]}
        if self.features:
            train["dynamic_feat"] = [row[: DAYS - H] for row in _calendar_rows(DAYS)]
            series["dynamic_feat"] = _calendar_rows(DAYS + H)
        result = engine.train(
            train_jsonl=(json.dumps(train) + "\n").encode(),
            test_jsonl=b"",
            hyperparameters=hyperparameters,
            seed=3,
            out_dir=out,
            num_batches_per_epoch=3,
        )
        self.model_tar = result.model_tar
        self.instance = series
        self.marker, self.files = read_archive(self.model_tar)
        self.settings = engine.parse_hyperparameters(self.marker["hyperparameters"])
        self.series = parse_request(
            self.request(), self.settings, num_dynamic_feat=self.marker["num_dynamic_feat"]
        ).instances[0]
        self.numpy = NumpyDeepAR.load(self.files, where=str(self.model_tar))
        self.gl = engine._backend()
        folder = out / "unpacked"
        folder.mkdir()
        for name, data in self.files.items():  # read_archive's checked members (no tarfile filter= on 3.11.2)
            (folder / name).parent.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
        self.predictor = self.gl.PyTorchPredictor.deserialize(folder, device="cpu")
        self.predictor.prediction_net.eval()

    def request(self, **config: Any) -> dict[str, Any]:
        configuration = {"num_samples": PATHS, "output_types": ["samples"], "quantiles": [], **config}
        return {"instances": [self.instance], "configuration": configuration}

    def gluonts_inputs(self) -> dict[str, Any]:
        """The tensors GluonTS's predictor hands its network for this series."""
        torch = self.gl.torch
        dataset = engine._dataset(self.gl, [self.series], self.settings.freq)
        batch = next(iter(self.predictor.input_transform.apply(dataset, is_train=False)))
        names = (
            "feat_static_cat",
            "feat_static_real",
            "past_time_feat",
            "past_target",
            "past_observed_values",
            "future_time_feat",
        )
        return {name: torch.as_tensor(np.asarray(batch[name]))[None] for name in names}

    def gluonts_params(
        self, path: np.ndarray[Any, Any] | None = None
    ) -> tuple[list[np.ndarray[Any, Any]], float]:
        """GluonTS's distribution parameters of the first step (or, given a path, of every step with that
        path fed back), before the mean scale; and the mean scale."""
        x = self.gluonts_inputs()
        model = self.predictor.prediction_net.model
        future = x["future_time_feat"] if path is not None else x["future_time_feat"][:, :1]
        target = None if path is None else self.gl.torch.as_tensor(path, dtype=self.gl.torch.float32)[None]
        with self.gl.torch.no_grad():
            params, scale, *_ = model.unroll_lagged_rnn(
                x["feat_static_cat"],
                x["feat_static_real"],
                x["past_time_feat"],
                x["past_target"],
                x["past_observed_values"],
                future,
                target,
            )
        steps = 1 if path is None else H
        return [p[0, -steps:].numpy() for p in params], float(scale.reshape(-1)[0])

    def gluonts_samples(self, seed: int) -> np.ndarray[Any, Any]:
        return engine._sample(self.gl, self.predictor, self.series, self.settings.freq, PATHS, seed)


_TRAINED: dict[str, Case] = {}


def _case(name: str, tmp_path_factory: pytest.TempPathFactory) -> Case:
    if name not in _TRAINED:
        _TRAINED[name] = Case(name, tmp_path_factory.mktemp("numpy-deepar"))
    return _TRAINED[name]


@pytest.fixture(scope="module", params=list(CASES))
def case(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Case:
    return _case(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def prices(tmp_path_factory: pytest.TempPathFactory) -> Case:
    """One model, for what does not depend on the model's kind."""
    return _case("student-t prices", tmp_path_factory)


def _close(got: np.ndarray[Any, Any], want: np.ndarray[Any, Any]) -> None:
    assert np.allclose(got, want, rtol=1e-5, atol=1e-5), (got, want)


# ------------------------------------------------------------------------------------ equivalence


def test_training_writes_the_torch_free_weights_and_says_so(case: Case) -> None:
    assert case.marker["inference"] == "numpy" and case.marker["engine"] == "gluonts-torch"
    manifest = json.loads(case.files[MANIFEST])
    assert manifest["written_by"] == {
        "engine": "gluonts-torch",
        "gluonts": case.marker["gluonts"],
        "torch": case.marker["torch"],
    }
    assert manifest["lags"] == [lag - 1 for lag in case.marker["lags_seq"]]
    assert manifest["distribution"] in case.name.replace("gaussian", "normal").replace(" ", "-")
    assert manifest["num_feat_dynamic_real"] == (3 if case.features else 0)


def test_the_first_step_is_gluonts_to_1e_5(case: Case) -> None:
    step = case.numpy.first_step(case.series)
    params, scale = case.gluonts_params()
    assert math.isclose(float(step.scale), scale, rel_tol=1e-5)
    assert len(params) == len(step.params)
    for got, want in zip(step.params.values(), params, strict=True):
        _close(got, want)


def test_every_step_is_gluonts_given_the_same_path(case: Case) -> None:
    path = case.gluonts_samples(seed=4)[0].astype(np.float32)
    seen: list[Step] = []

    def replay(step: Step, k: int) -> np.ndarray[Any, Any]:
        seen.append(step)
        return np.full(2, path[k])

    replayed = case.numpy.unroll(case.series, paths=2, draw=replay)
    assert np.array_equal(replayed[0], path) and np.array_equal(replayed[1], path)
    params, _ = case.gluonts_params(path)
    for k, step in enumerate(seen):
        for got, want in zip(step.params.values(), params, strict=True):
            _close(got, np.full(2, want[k]))


def test_400_paths_have_gluonts_quantiles(case: Case) -> None:
    mine = case.numpy.sample(case.series, num_samples=PATHS, seed=21)
    theirs = case.gluonts_samples(seed=21)
    assert mine.shape == theirs.shape == (PATHS, H)
    pooled = np.concatenate([mine, theirs])
    lattice = 1.0 if "binomial" in case.name else 0.0
    h = 0.05
    for q in LEVELS:
        spread = np.quantile(pooled, q + h, axis=0) - np.quantile(pooled, q - h, axis=0)
        density = 2 * h / np.maximum(spread, 1e-12)
        tolerance = K * math.sqrt(2) * math.sqrt(q * (1 - q) / PATHS) / density + lattice
        gap = np.abs(np.quantile(mine, q, axis=0) - np.quantile(theirs, q, axis=0))
        assert np.all(gap <= tolerance), (q, gap, tolerance)


HEAD_CASES = {
    "student-t": ("StudentTOutput", {"df": 3.5, "loc": 0.2, "scale": 0.7}),
    "normal": ("NormalOutput", {"loc": -0.3, "scale": 0.4}),
    "negative-binomial": ("NegativeBinomialOutput", {"total_count": 4.0, "logits": -2.0}),
}


@pytest.mark.parametrize("head", list(HEAD_CASES))
def test_each_head_draws_what_gluonts_distribution_draws(head: str) -> None:
    """200,000 draws of numpy's head against as many of GluonTS's distribution (the same parameters,
    mean scale 30): quantiles within the tolerance above, for n = 200,000."""
    import torch
    from gluonts.torch import distributions

    from nikkei_deepar.engine.numpy_deepar import HEADS

    n, scale = 200_000, 30.0
    output, params = HEAD_CASES[head]
    arrays = {k: np.full(n, v, dtype=np.float32) for k, v in params.items()}
    mine = HEADS[head].draw(arrays, np.asarray(scale, dtype=np.float32), np.random.default_rng(0))
    torch.manual_seed(0)
    tensors = [torch.full((1,), v) for v in params.values()]
    distribution = getattr(distributions, output)().distribution(tensors, scale=torch.full((1,), scale))
    theirs = distribution.sample((n,)).numpy().ravel().astype(np.float64)
    pooled = np.concatenate([mine, theirs])
    h = 0.05
    for q in LEVELS:
        spread = np.quantile(pooled, q + h) - np.quantile(pooled, q - h)
        tolerance = K * math.sqrt(2) * math.sqrt(q * (1 - q) / n) * spread / (2 * h)
        lattice = 1.0 if head == "negative-binomial" else 0.0
        assert abs(np.quantile(mine, q) - np.quantile(theirs, q)) <= tolerance + lattice, q


# ------------------------------------------------------------------------------------ serving


def test_predict_answers_as_gluonts_does(case: Case) -> None:
    request = case.request(
        num_samples=50, output_types=["mean", "quantiles", "samples"], quantiles=["0.1", "0.9"]
    )
    notes: list[str] = []
    mine = serving.predict(model_tar=case.model_tar, request=request, seed=1, note=notes.append)
    theirs = engine.predict(model_tar=case.model_tar, request=request, seed=1)
    assert notes == []
    assert list(mine) == list(theirs) == ["predictions"]
    (a,), (b,) = mine["predictions"], theirs["predictions"]
    assert list(a) == list(b) == ["mean", "quantiles", "samples"]
    assert list(a["quantiles"]) == list(b["quantiles"]) == ["0.1", "0.9"]
    assert np.array(a["samples"]).shape == np.array(b["samples"]).shape == (50, H)
    assert mine == serving.predict(model_tar=case.model_tar, request=request, seed=1)
    assert mine != serving.predict(model_tar=case.model_tar, request=request, seed=2)


_IMPORTS = textwrap.dedent(
    """
    import json, sys
    from nikkei_deepar.engine import serving
    answer = serving.predict(model_tar=sys.argv[1], request=json.loads(sys.argv[2]), seed=5)
    heavy = {"torch", "lightning", "gluonts", "pandas", "scipy"} & {m.split(".")[0] for m in sys.modules}
    heavy = sorted(heavy)
    print(json.dumps({"heavy": heavy, "answer": answer}))
    """
)


def _predict_in_a_process(case: Case, request: dict[str, Any], **env: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", _IMPORTS, str(case.model_tar), json.dumps(request)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, **env},
        timeout=120,
    )
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_predict_imports_no_torch_and_gives_the_same_bits_in_every_process(prices: Case) -> None:
    case = prices
    request = case.request(num_samples=100, output_types=["mean", "quantiles", "samples"], quantiles=["0.5"])
    one = _predict_in_a_process(case, request, OPENBLAS_NUM_THREADS="1")
    two = _predict_in_a_process(case, request, OPENBLAS_NUM_THREADS="2")
    assert one["heavy"] == two["heavy"] == []
    assert (
        one["answer"] == two["answer"] == serving.predict(model_tar=case.model_tar, request=request, seed=5)
    )


def test_requests_are_checked_as_before(case: Case) -> None:
    short = {"instances": [{"start": START, "target": [1.0] * 5}]}
    with pytest.raises(DataError, match="at least context_length"):
        serving.predict(model_tar=case.model_tar, request=short, seed=1)
    request = case.request()
    instance = dict(request["instances"][0])
    instance["dynamic_feat"] = [[0.0] * (DAYS + H + 1)] * 3
    expected = "dynamic_feat has" if case.features else "3 dynamic_feat row"
    with pytest.raises(DataError, match=expected):
        serving.predict(model_tar=case.model_tar, request={**request, "instances": [instance]}, seed=1)


# ------------------------------------------------------------------------------- older and damaged archives


def _rewrite(
    case: Case,
    out: Path,
    *,
    drop: tuple[str, ...] = (),
    replace: dict[str, bytes] | None = None,
    **marker: Any,
) -> Path:
    """The case's archive rewritten by the tool's own writer (fresh digests): files dropped or replaced,
    marker entries changed (None removes one)."""
    folder = out / "files"
    folder.mkdir()
    for name, data in {**case.files, **(replace or {})}.items():
        if name != MARKER and name not in drop:
            (folder / name).write_bytes(data)
    metadata = {k: v for k, v in case.marker.items() if k not in ("format", "format_version", "files")}
    metadata.update(marker)
    return write_archive(folder, out, metadata={k: v for k, v in metadata.items() if v is not None})


def test_an_older_archive_predicts_through_gluonts_with_one_note(prices: Case, tmp_path: Path) -> None:
    case = prices
    old = _rewrite(case, tmp_path, drop=(MANIFEST, WEIGHTS), inference=None, engine=None)
    notes: list[str] = []
    request = case.request(num_samples=20)
    answer = serving.predict(model_tar=old, request=request, seed=1, note=notes.append)
    assert answer == engine.predict(model_tar=old, request=request, seed=1)
    [note] = notes
    assert "no torch-free weights" in note and "through GluonTS" in note and "\n" not in note


def _arrays(case: Case) -> dict[str, np.ndarray[Any, Any]]:
    import io

    with np.load(io.BytesIO(case.files[WEIGHTS])) as npz:
        return {name: npz[name] for name in npz.files}


def _npz(arrays: dict[str, np.ndarray[Any, Any]]) -> bytes:
    import io

    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _damaged(case: Case) -> dict[str, dict[str, Any]]:
    manifest = json.loads(case.files[MANIFEST])
    arrays = _arrays(case)
    reshaped = {**arrays, "rnn.weight_hh_l0": np.zeros((3, 3), dtype=np.float32)}
    wider = {**manifest, "hidden_size": manifest["hidden_size"] + 1}
    return {
        "weights missing": {"drop": (WEIGHTS,), "match": f"no {WEIGHTS}"},
        "manifest missing": {"drop": (MANIFEST,), "match": f"no {MANIFEST}"},
        "weights truncated": {"replace": {WEIGHTS: case.files[WEIGHTS][:-200]}, "match": "unreadable"},
        "weights of another shape": {
            "replace": {WEIGHTS: _npz(reshaped)},
            "match": "rnn.weight_hh_l0 is float32",
        },
        "an array missing": {
            "replace": {WEIGHTS: _npz({k: v for k, v in arrays.items() if k != "proj.0.bias"})},
            "match": "lacks",
        },
        "a manifest of another shape": {
            "replace": {MANIFEST: json.dumps(wider).encode()},
            "match": "do not fit",
        },
        "a manifest that is not JSON": {"replace": {MANIFEST: b"{"}, "match": "malformed"},
        "a manifest of another model": {
            "replace": {MANIFEST: json.dumps({**manifest, "prediction_length": H + 1}).encode()},
            "match": "for another model",
        },
    }


@pytest.mark.parametrize(
    "damage",
    [
        "weights missing",
        "manifest missing",
        "weights truncated",
        "weights of another shape",
        "an array missing",
        "a manifest of another shape",
        "a manifest that is not JSON",
        "a manifest of another model",
    ],
)
def test_damaged_weights_are_refused_in_one_line(prices: Case, tmp_path: Path, damage: str) -> None:
    case = prices
    spec = _damaged(case)[damage]
    archive = _rewrite(case, tmp_path, drop=spec.get("drop", ()), replace=spec.get("replace"))
    notes: list[str] = []
    with pytest.raises(ModelFileError, match=spec["match"]) as refused:
        serving.predict(model_tar=archive, request=case.request(num_samples=5), seed=1, note=notes.append)
    assert "\n" not in refused.value.message and notes == []
    assert refused.value.hint is not None and "train" in refused.value.hint
