"""Config: discovery order, overrides, and one readable line per problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from nikkei_deepar.config import Settings, load_config
from nikkei_deepar.errors import ConfigError, ExitCode

ROOT = Path(__file__).resolve().parents[1]


def test_example_config_is_valid_and_documents_every_key() -> None:
    loaded = load_config(ROOT / "config.example.toml", env={})
    s = loaded.settings
    assert s.aws.region == "ap-northeast-1"
    assert s.training.hyperparameters.prediction_length is None  # derived from the horizon
    assert s.forecast.horizon_trading_days == 5
    # every field of every section appears in the example (commented or not)
    text = (ROOT / "config.example.toml").read_text(encoding="utf-8")
    for section in ("aws", "data", "training", "endpoint", "predict", "forecast"):
        for field in type(getattr(s, section)).model_fields:
            assert f"{field} =" in text or f"[{section}.{field}]" in text, f"{section}.{field} undocumented"


def test_discovery_order(tmp_path: Path) -> None:
    a = tmp_path / "a.toml"
    a.write_text('[aws]\nprefix = "from-cli"\n')
    b = tmp_path / "b.toml"
    b.write_text('[aws]\nprefix = "from-env"\n')
    (tmp_path / "nikkei-deepar.toml").write_text('[aws]\nprefix = "from-cwd"\n')
    env = {"NIKKEI_DEEPAR_CONFIG": str(b)}
    assert load_config(a, env=env, cwd=tmp_path).settings.aws.prefix == "from-cli"
    assert load_config(None, env=env, cwd=tmp_path).settings.aws.prefix == "from-env"
    assert load_config(None, env={}, cwd=tmp_path).settings.aws.prefix == "from-cwd"
    empty = tmp_path / "empty"
    empty.mkdir()
    loaded = load_config(None, env={}, cwd=empty)
    assert loaded.path is None and loaded.origin == "defaults"


def test_named_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.toml", env={}, cwd=tmp_path)
    with pytest.raises(ConfigError, match="NIKKEI_DEEPAR_CONFIG"):
        load_config(None, env={"NIKKEI_DEEPAR_CONFIG": str(tmp_path / "x.toml")}, cwd=tmp_path)


def test_environment_then_cli_override_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "c.toml"
    cfg.write_text('[aws]\nregion = "eu-west-1"\nprofile = "file"\n')
    env = {"AWS_REGION": "us-west-2", "AWS_PROFILE": "envprof"}
    s = load_config(cfg, env=env, cwd=tmp_path).settings
    assert (s.aws.region, s.aws.profile) == ("us-west-2", "envprof")
    s = load_config(cfg, env=env, cwd=tmp_path, overrides={"aws.region": "ap-northeast-3"}).settings
    assert s.aws.region == "ap-northeast-3"
    assert load_config(cfg, env={"AWS_DEFAULT_REGION": "ca-central-1"}, cwd=tmp_path).settings.aws.region == (
        "ca-central-1"
    )


def test_every_problem_is_one_line_with_the_field_and_value(tmp_path: Path) -> None:
    cfg = tmp_path / "bad.toml"
    cfg.write_text(
        '[aws]\nbucket = "My_Bucket"\nrole_name = "' + "r" * 70 + '"\n'
        "[training]\nspot = true\nmax_runtime_seconds = 3600\n"
        '[training.hyperparameters]\ncontext_length = -3\nnum_layers = 9\nlikelihood = "poisson"\n'
        "typo_key = 1\n"
        '[endpoint]\ninstance_type = "ml.p3.2xlarge"\n'
    )
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    err = info.value
    assert err.exit_code == ExitCode.USAGE
    assert str(cfg) in err.message
    problems = "\n".join(err.problems)
    assert "training.hyperparameters.context_length: must be > 0 (got -3)" in err.problems
    assert not any("num_layers" in p for p in err.problems)  # outside the tuning range: a warning only
    assert "training.hyperparameters.likelihood: must be one of" in problems
    assert "training.hyperparameters.typo_key: unknown key" in problems
    assert "aws.bucket: " in problems and "My_Bucket" in problems
    assert "aws.role_name: IAM role names are 1-64" in problems
    assert "endpoint.instance_type: DeepAR inference runs on CPU instances only" in problems
    assert all("\n" not in p for p in err.problems)


def test_spot_with_the_default_limits_is_accepted(tmp_path: Path) -> None:
    cfg = tmp_path / "spot.toml"
    cfg.write_text("[training]\nspot = true\n")
    training = load_config(cfg, env={}, cwd=tmp_path).settings.training
    assert training.spot and training.max_wait_seconds == training.max_runtime_seconds == 3600
    cfg.write_text("[training]\nspot = true\nmax_runtime_seconds = 7200\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    assert "max_wait_seconds must be at least max_runtime_seconds (got 3600 < 7200)" in info.value.problems[0]


def test_hyperparameters_outside_the_tuning_ranges_are_valid_with_one_warning_each(tmp_path: Path) -> None:
    cfg = tmp_path / "hp.toml"
    cfg.write_text("[training.hyperparameters]\ncontext_length = 252\nnum_layers = 9\nmini_batch_size = 16\n")
    settings = load_config(cfg, env={}, cwd=tmp_path).settings
    assert settings.training.hyperparameters.context_length == 252
    warnings = settings.warnings()
    assert [w.split(" = ")[0] for w in warnings] == [
        "training.hyperparameters.context_length",
        "training.hyperparameters.mini_batch_size",
        "training.hyperparameters.num_layers",
    ]
    assert all("\n" not in w and "recommended tuning range" in w for w in warnings)
    assert load_config(None, env={}, cwd=tmp_path).settings.warnings() == []


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("epochs = 99999999999999999999999", "epochs: must be <= 10000 (got 99999999999999999999999): "),
        ("epochs = " + "9" * 40, "epochs: must be <= 10000 (got a number of more than 30 digits)"),
        ("num_cells = 2001", "num_cells: must be <= 2000 (got 2001)"),
        ("context_length = 2001", "context_length: must be <= 2000"),
        ("prediction_length = 10001", "prediction_length: must be <= 10000"),
        ("early_stopping_patience = 10001", "early_stopping_patience: must be <= 10000"),
    ],
)
def test_absurd_hyperparameters_are_refused_naming_the_key(tmp_path: Path, line: str, problem: str) -> None:
    # epochs = 99999999999999999999999 used to pass with a tuning-range warning and go to AWS
    cfg = tmp_path / "hp.toml"
    cfg.write_text(f"[training.hyperparameters]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    [found] = info.value.problems
    assert found.startswith(f"training.hyperparameters.{problem}") and "typo" in found


def test_hyperparameters_at_their_caps_are_valid_with_a_warning(tmp_path: Path) -> None:
    cfg = tmp_path / "hp.toml"
    cfg.write_text("[training.hyperparameters]\nepochs = 10000\nnum_layers = 80\n")
    settings = load_config(cfg, env={}, cwd=tmp_path).settings
    assert settings.training.hyperparameters.epochs == 10_000
    assert len(settings.warnings()) == 2


def test_an_integer_python_cannot_read_is_a_config_error(tmp_path: Path) -> None:
    cfg = tmp_path / "hp.toml"
    cfg.write_text("[training.hyperparameters]\nepochs = " + "9" * 5000 + "\n")
    with pytest.raises(ConfigError, match=r"hp\.toml: a number in the file is too long to read"):
        load_config(cfg, env={}, cwd=tmp_path)


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("context_length = 0", "context_length: must be > 0"),
        ("learning_rate = 0.0", "learning_rate: must be > 0"),
        ("dropout_rate = 1.0", "dropout_rate: must be < 1"),
        ("mini_batch_size = -1", "mini_batch_size: must be > 0"),
        ('likelihood = "poisson"', "likelihood: must be one of"),
    ],
)
def test_hyperparameters_deepar_rejects_are_refused(tmp_path: Path, line: str, problem: str) -> None:
    cfg = tmp_path / "hp.toml"
    cfg.write_text(f"[training.hyperparameters]\n{line}\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    assert f"training.hyperparameters.{problem}" in info.value.problems[0]


@pytest.mark.parametrize(
    ("aws", "problem"),
    [
        ('prefix = "*"', "would grant access beyond this prefix"),
        ('prefix = "data/*/x"', "would grant access beyond this prefix"),
        ('kms_key_id = "*"', "a wildcard would let the execution role use every matching KMS key"),
        (
            'kms_key_id = "arn:aws:kms:ap-northeast-1:123456789012:key/*"',
            "a wildcard would let the execution role use every matching KMS key",
        ),
        ('kms_key_id = "not-a-key"', "not a KMS key"),
        ('kms_key_id = "arn:aws:s3:::bucket"', "not a KMS key"),
        ('kms_key_id = "arn:aws:kms:us-east-1:123456789012:alias/k"', "a key in us-east-1"),
        ('[aws.tags]\n"k" = "' + "v" * 257 + '"', "is not allowed: at most 256"),
        ('[aws.tags]\n"k" = "a*"', "is not allowed: at most 256"),
        ('[aws.tags]\n"aws:x" = "v"', "not starting with aws:"),
        ("[aws.tags]\n" + "".join(f'"k{i}" = "v"\n' for i in range(49)), "at most 48 tags"),
    ],
)
def test_values_aws_refuses_or_that_would_widen_the_role_are_refused(
    tmp_path: Path, aws: str, problem: str
) -> None:
    cfg = tmp_path / "aws.toml"
    cfg.write_text(f'[aws]\nregion = "ap-northeast-1"\n{aws}\n')
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    assert len(info.value.problems) == 1
    assert problem in info.value.problems[0]
    assert len(info.value.problems[0]) < 300


@pytest.mark.parametrize(
    "key",
    [
        "1234abcd-12ab-34cd-56ef-1234567890ab",
        "mrk-" + "0" * 32,
        "alias/nikkei",
        "arn:aws:kms:ap-northeast-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "arn:aws:kms:ap-northeast-1:123456789012:alias/nikkei",
    ],
)
def test_real_kms_key_shapes_are_accepted(tmp_path: Path, key: str) -> None:
    cfg = tmp_path / "kms.toml"
    cfg.write_text(
        f'[aws]\nregion = "ap-northeast-1"\nkms_key_id = "{key}"\n[aws.tags]\n"名前" = "テスト 1"\n'
    )
    assert load_config(cfg, env={}, cwd=tmp_path).settings.aws.kms_key_id == key


def test_spot_wait_must_exceed_runtime_and_is_capped(tmp_path: Path) -> None:
    cfg = tmp_path / "spot.toml"
    cfg.write_text("[training]\nspot = true\nmax_runtime_seconds = 1800\nmax_wait_seconds = 7200\n")
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    assert "training.max_wait_seconds: must be <= 3600 (got 7200)" in info.value.problems
    cfg.write_text("[training]\nspot = true\nmax_runtime_seconds = 1800\nmax_wait_seconds = 3600\n")
    assert load_config(cfg, env={}, cwd=tmp_path).settings.training.spot


def test_toml_syntax_error_names_the_file(tmp_path: Path) -> None:
    cfg = tmp_path / "broken.toml"
    cfg.write_text("[aws\nregion = 1\n")
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML"):
        load_config(cfg, env={}, cwd=tmp_path)


def test_hyperparameters_are_strings_for_create_training_job() -> None:
    hp = load_config(None, env={}, cwd=Path("/")).settings.training.hyperparameters.as_strings()
    assert hp["context_length"] == "20" and hp["learning_rate"] == "0.001"
    assert hp["test_quantiles"] == "[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]"
    assert "early_stopping_patience" not in hp
    assert all(isinstance(v, str) for v in hp.values())


def test_managed_by_tag_is_reserved(tmp_path: Path) -> None:
    cfg = tmp_path / "t.toml"
    cfg.write_text('[aws.tags]\n"managed-by" = "me"\n')
    with pytest.raises(ConfigError) as info:
        load_config(cfg, env={}, cwd=tmp_path)
    assert "managed-by" in info.value.problems[0]


def test_the_stale_data_settings_shape_no_model() -> None:
    """A job trained before `[data] max_age_sessions` and `on_stale` existed is reused by retrain: its
    config hash is unchanged, whatever they are set to."""
    base = Settings()
    changed = Settings.model_validate({"data": {"max_age_sessions": 10, "on_stale": "fail"}})
    assert base.fingerprint() == changed.fingerprint() == "d0f1e9aa5ec13e80"  # the hash before them
    assert Settings.model_validate({"data": {"test_windows": 2}}).fingerprint() != base.fingerprint()


def test_tags_without_project_or_stage_keep_the_default_workspace() -> None:
    """A tags table replaces the default one: project and stage, which name the workspace, are kept
    unless given, so no config falls back into a stage-less workspace and the old shared role name."""
    from nikkei_deepar.config import Settings

    settings = Settings.model_validate({"aws": {"tags": {"team": "quant"}}})
    assert settings.aws.tags == {"project": "nikkei-deepar", "stage": "dev", "team": "quant"}
    assert settings.execution_role_name() == "nikkei-deepar-dev-sagemaker"
    prod = Settings.model_validate({"aws": {"tags": {"stage": "prod"}}})
    assert prod.workspace.label == "nikkei-deepar/prod"


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("s3://proj-bucket/nikkei-deepar", False),  # the state among the workspace's own keys
        ("s3://proj-bucket/nikkei-deepar/nikkei-deepar/dev/x", False),
        ("s3://proj-bucket", True),  # PREFIX/project/stage of its own: nikkei-deepar/dev/
        ("s3://proj-bucket/nikkei-deepar-state", True),
        ("s3://team-state/nikkei-deepar", True),  # another bucket
    ],
)
def test_a_remote_state_is_never_under_the_keys_teardown_empties(url: str, ok: bool) -> None:
    from pydantic import ValidationError

    from nikkei_deepar.config import Settings

    raw = {"aws": {"bucket": "proj-bucket"}, "state": {"url": url}}
    if ok:
        Settings.model_validate(raw)
        return
    with pytest.raises(ValidationError, match="teardown --all empties"):
        Settings.model_validate(raw)
