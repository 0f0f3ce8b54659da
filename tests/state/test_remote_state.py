"""The remote state store on S3 (in-process moto, which honours If-Match / If-None-Match on put_object):
conditional read-modify-write re-applied on 412/409, the lease, and everything at the key it must refuse."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import pytest

from aws.test_s3 import inject_error
from nikkei_deepar.aws.s3 import ConditionFailed, S3Gateway
from nikkei_deepar.aws.session import AwsClients
from nikkei_deepar.errors import DataError, ExitCode, LockHeldError, StateConflictError, VersionError
from nikkei_deepar.ledger import Job, Ledger, Resource
from nikkei_deepar.state.remote import Lease, S3StateStore

REGION = "ap-northeast-1"
BUCKET = "team-state"
ROOT = "nikkei-deepar/nikkei-deepar/prod"


@pytest.fixture
def s3(aws: None) -> S3Gateway:
    client = boto3.client("s3", region_name=REGION)
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return S3Gateway(AwsClients(region=REGION, profile=None, max_attempts=1))


class Clock:
    """Both clocks a store reads: monotonic seconds and wall time, advanced by its sleeps."""

    def __init__(self) -> None:
        self.t = 0.0
        self.wall = dt.datetime(2026, 12, 7, 9, 0, tzinfo=dt.UTC)
        self.slept: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.t += seconds
        self.wall += dt.timedelta(seconds=seconds)

    def clock(self) -> float:
        return self.t

    def now(self) -> dt.datetime:
        return self.wall


def store(s3: Any, clock: Clock | None = None, **kw: Any) -> S3StateStore:
    clock = clock or Clock()
    return S3StateStore(
        lambda: s3, bucket=BUCKET, key_root=ROOT, sleep=clock.sleep, clock=clock.clock, now=clock.now, **kw
    )


def job(name: str) -> Job:
    return Job(name=name, data_sha256="0" * 64, hyperparameters={}, config_hash="h")


def raw(s3: S3Gateway, key: str) -> bytes:
    found = s3.get_versioned_text(BUCKET, key)
    assert found is not None
    return found[0]


# -- the ledger ---------------------------------------------------------------------------------------------
def test_the_first_write_creates_the_object_and_later_ones_replace_it(s3: S3Gateway) -> None:
    remote = store(s3)
    assert not remote.exists() and remote.load().jobs == []
    saved = remote.update(lambda ledger: ledger.upsert_job(job("a")))
    assert [j.name for j in saved.jobs] == ["a"]
    remote.update(lambda ledger: ledger.upsert_job(job("b")))
    assert [j.name for j in remote.load().jobs] == ["a", "b"]
    assert remote.where == f"s3://{BUCKET}/{ROOT}/state.json"
    assert json.loads(raw(s3, f"{ROOT}/state.json"))["schema_version"] == 2


class Racing:
    """An S3 gateway where another host writes the state between this host's read and its write,
    `times` times in a row."""

    def __init__(self, s3: S3Gateway, other: S3StateStore, times: int) -> None:
        self.s3, self.other, self.times, self.puts = s3, other, times, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.s3, name)

    def put_if(self, bucket: str, key: str, body: bytes, **kw: Any) -> str:
        if key.endswith("state.json") and self.times > 0:
            self.times -= 1
            self.other.update(lambda ledger: ledger.upsert_job(job(f"other-{self.times}")))
        self.puts += 1
        return self.s3.put_if(bucket, key, body, **kw)


def test_a_write_that_lost_a_race_is_applied_again_to_the_fresh_state(s3: S3Gateway) -> None:
    other = store(s3)
    other.update(lambda ledger: ledger.upsert_job(job("first")))
    racing = Racing(s3, other, times=2)
    clock = Clock()
    mine = store(racing, clock)
    saved = mine.update(lambda ledger: ledger.upsert_job(job("mine")))
    names = [j.name for j in store(s3).load().jobs]
    assert names == ["first", "other-1", "other-0", "mine"]  # nothing lost, theirs nor mine
    assert [j.name for j in saved.jobs] == names
    assert racing.puts == 3 and len(clock.slept) == 2  # two 412s, a short backoff after each


def test_a_storm_of_412s_writes_nothing_and_exits_10(s3: S3Gateway) -> None:
    other = store(s3)
    other.update(lambda ledger: ledger.upsert_job(job("first")))
    mine = store(Racing(s3, other, times=100), attempts=4)
    with pytest.raises(StateConflictError, match=r"4 writes in a row found the state changed") as caught:
        mine.update(lambda ledger: ledger.upsert_job(job("mine")))
    assert caught.value.exit_code == ExitCode.CONFLICT == 10
    assert "mine" not in [j.name for j in store(s3).load().jobs]


def test_409_conditional_request_conflict_is_retried_like_412(s3: S3Gateway) -> None:
    calls = inject_error(
        s3.client, "PutObject", "ConditionalRequestConflict", 409, when=lambda params: len(calls) == 1
    )
    remote = store(s3)
    remote.update(lambda ledger: ledger.upsert_job(job("a")))
    assert [j.name for j in remote.load().jobs] == ["a"] and len(calls) == 2
    assert all(("IfNoneMatch" in c) or ("IfMatch" in c) for c in calls)


def test_the_gateway_says_412_and_409_are_lost_races(s3: S3Gateway) -> None:
    s3.put_if(BUCKET, "k", b"1", etag=None)
    with pytest.raises(ConditionFailed):
        s3.put_if(BUCKET, "k", b"2", etag=None)  # If-None-Match: "*" on an existing object
    with pytest.raises(ConditionFailed):
        s3.put_if(BUCKET, "k", b"2", etag='"not-its-etag"')


@pytest.mark.parametrize(
    ("body", "error", "code", "words"),
    [
        (b'{"schema_version": 2, "jobs": [', DataError, 3, "corrupt"),  # truncated
        (b'{"terraform_version": "1.9.0", "resources": []}', DataError, 3, "not a nikkei-deepar ledger"),
        (b'{"schema_version": 7}', VersionError, 11, "newer version of nikkei-deepar"),
        (b"\xff\xfe binary", DataError, 3, "corrupt"),
    ],
    ids=["truncated", "foreign", "newer", "binary"],
)
def test_what_is_not_a_readable_ledger_is_refused_and_never_overwritten(
    s3: S3Gateway, body: bytes, error: type[Exception], code: int, words: str
) -> None:
    s3.put_if(BUCKET, f"{ROOT}/state.json", body, etag=None)
    remote = store(s3)
    with pytest.raises(error, match=words) as caught:
        remote.update(lambda ledger: ledger.upsert_job(job("x")))
    assert caught.value.exit_code == code  # type: ignore[attr-defined]
    assert remote.where in caught.value.message  # type: ignore[attr-defined]
    assert raw(s3, f"{ROOT}/state.json") == body


def test_push_refuses_to_replace_a_state_unless_told(s3: S3Gateway) -> None:
    remote = store(s3)
    remote.write_whole(Ledger(jobs=[job("local")]), replace=False)
    with pytest.raises(StateConflictError, match="already there"):
        remote.write_whole(Ledger(jobs=[job("again")]), replace=False)
    remote.write_whole(Ledger(jobs=[job("again")]), replace=True)
    assert [j.name for j in remote.load().jobs] == ["again"]


# -- the lease ----------------------------------------------------------------------------------------------
def lease_body(s3: S3Gateway) -> dict[str, Any]:
    return dict(json.loads(raw(s3, f"{ROOT}/state.lease")))


def test_a_held_lease_names_its_holder_and_goes_when_released(s3: S3Gateway) -> None:
    remote = store(s3)
    with remote.lock(command="deploy"):
        body = lease_body(s3)
        assert body["command"] == "deploy" and body["pid"] > 0 and body["host"]
        holder = remote.lock_holder()
        assert holder is not None and "running `nikkei-deepar deploy`" in holder
        with (
            pytest.raises(
                LockHeldError, match=r"state\.lease: held by pid \d+ on .* running `nikkei-deepar deploy`"
            ) as caught,
            store(s3).lock(command="train"),
        ):
            pass
        assert caught.value.exit_code == ExitCode.LOCKED == 9
        assert "--wait-lock" in (caught.value.hint or "") and "state unlock" in (caught.value.hint or "")
    assert s3.get_versioned_text(BUCKET, f"{ROOT}/state.lease") is None
    assert remote.lock_holder() is None


def test_a_lease_left_by_a_dead_host_is_taken_over_once_it_expired(s3: S3Gateway) -> None:
    clock = Clock()
    dead = Lease(
        id="dead",
        host="cron-server",
        pid=4242,
        command="retrain",
        started=clock.now() - dt.timedelta(minutes=10),
        expires=clock.now() + dt.timedelta(seconds=20),
    )
    s3.put_if(BUCKET, f"{ROOT}/state.lease", dead.to_json(), etag=None)
    with pytest.raises(LockHeldError, match="cron-server"), store(s3, clock).lock(command="deploy"):
        pass
    said: list[str] = []
    with store(s3, clock).lock(command="deploy", wait_seconds=60, on_takeover=said.append):
        assert lease_body(s3)["command"] == "deploy"
    assert clock.t >= 20  # waited for the dead lease to run out, no longer
    assert said and "cron-server" in said[0] and "which expired" in said[0]


def test_a_lease_put_whose_own_retry_got_412_counts_as_held(s3: S3Gateway) -> None:
    """botocore retries a PUT that timed out; the first attempt had landed, so the retry gets 412
    against our own lease (Terraform's backend then never released it)."""

    class FirstPutLandsThenTimesOut:
        def __init__(self, inner: S3Gateway) -> None:
            self.inner, self.done = inner, False

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def put_if(self, bucket: str, key: str, body: bytes, **kw: Any) -> str:
            if key.endswith("state.lease") and not self.done:
                self.done = True
                self.inner.put_if(bucket, key, body, **kw)  # it landed...
                return self.inner.put_if(bucket, key, body, **kw)  # ...and the retry gets 412
            return self.inner.put_if(bucket, key, body, **kw)

    remote = store(FirstPutLandsThenTimesOut(s3))
    with remote.lock(command="train"):
        assert lease_body(s3)["command"] == "train"
    assert s3.get_versioned_text(BUCKET, f"{ROOT}/state.lease") is None  # and it was released


def test_a_lease_taken_over_while_we_thought_we_held_it_is_not_deleted_by_us(s3: S3Gateway) -> None:
    remote = store(s3, lease_seconds=5.0)
    with remote.lock(command="train"):
        found = s3.get_versioned_text(BUCKET, f"{ROOT}/state.lease")
        assert found is not None
        theirs = Lease.parse(found[0])
        assert theirs is not None
        taken = Lease(theirs.id + "x", "laptop", 7, "deploy", theirs.started, theirs.expires)
        s3.put_if(BUCKET, f"{ROOT}/state.lease", taken.to_json(), etag=found[1])
    assert lease_body(s3)["host"] == "laptop"  # still theirs


def test_a_foreign_object_at_the_lease_key_is_replaced_only_with_a_note(s3: S3Gateway) -> None:
    s3.put_if(BUCKET, f"{ROOT}/state.lease", b"garbage", etag=None)
    remote = store(s3)
    assert "not a lease this version reads" in (remote.lock_holder() or "")
    said: list[str] = []
    with remote.lock(command="deploy", on_takeover=said.append):
        pass
    assert said and "not a lease" in said[0]


def test_unlock_breaks_a_lease_at_the_version_it_read(s3: S3Gateway) -> None:
    remote = store(s3)
    clock = Clock()
    s3.put_if(
        BUCKET,
        f"{ROOT}/state.lease",
        Lease("x", "gone-host", 1, "retrain", clock.now(), clock.now() + dt.timedelta(hours=1)).to_json(),
        etag=None,
    )
    broken = remote.break_lease()
    assert broken is not None and broken.host == "gone-host"
    assert s3.get_versioned_text(BUCKET, f"{ROOT}/state.lease") is None


# -- what doctor asks ---------------------------------------------------------------------------------------
def test_moto_honours_conditional_writes_and_the_probe_leaves_nothing(s3: S3Gateway) -> None:
    remote = store(s3)
    assert remote.versioning() == "Enabled" and remote.honours_conditional_writes()
    versions = boto3.client("s3", region_name=REGION).list_object_versions(Bucket=BUCKET)
    assert versions.get("Versions", []) == [] and versions.get("DeleteMarkers", []) == []


def test_a_store_that_ignores_conditional_writes_is_found_out(s3: S3Gateway) -> None:
    class Ignoring:
        def __init__(self, inner: S3Gateway) -> None:
            self.inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self.inner, name)

        def put_if(self, bucket: str, key: str, body: bytes, **kw: Any) -> str:
            return str(self.inner.put_object(bucket, key, body, content_type="text/plain"))

    assert not store(Ignoring(s3)).honours_conditional_writes()


def test_records_round_trip(s3: S3Gateway) -> None:
    remote = store(s3)
    remote.update(lambda ledger: ledger.record(Resource(kind="bucket", name="b", created=True)))
    assert remote.load().created("bucket", "b")


# -- the forecast history beside a remote state (issue 23 on issue 22) -------------------------------------
def test_each_forecast_is_its_own_object_never_overwritten(s3: S3Gateway) -> None:
    from nikkei_deepar.state.remote import S3History
    from test_history import record

    history = S3History(lambda: s3, bucket=BUCKET, key_root=ROOT)
    first, second = record(), record()  # the same origin and job, issued twice: both kept
    where = history.append(first)
    history.append(second)
    assert where == f"s3://{BUCKET}/{ROOT}/history/2025-12-26-{first.id}.json"
    kept, problems = history.entries()
    assert sorted(r.id for r in kept) == sorted([first.id, second.id]) and problems == []
    with pytest.raises(StateConflictError, match="already kept; nothing was overwritten"):
        history.append(first)  # the same id again: If-None-Match refuses it


def test_a_corrupt_remote_forecast_is_named_and_skipped_and_a_newer_one_refused(s3: S3Gateway) -> None:
    from nikkei_deepar.state.remote import S3History
    from test_history import record

    history = S3History(lambda: s3, bucket=BUCKET, key_root=ROOT)
    history.append(record())
    cut = f"{ROOT}/history/2025-12-27-cut.json"
    s3.put_if(BUCKET, cut, b'{"format_version": 1, "id": "x", "issued', etag=None)
    kept, problems = history.entries()
    assert len(kept) == 1 and len(problems) == 1 and cut in problems[0] and problems[0].endswith("skipped")
    assert raw(s3, cut).startswith(b'{"format_version": 1')  # never rewritten
    newer = json.loads(record().to_line())
    newer["format_version"] = 99
    s3.put_if(BUCKET, f"{ROOT}/history/2025-12-28-new.json", json.dumps(newer).encode(), etag=None)
    with pytest.raises(VersionError):
        history.entries()


def test_a_holder_whose_lease_was_cleared_stops_before_writing_more(s3: S3Gateway) -> None:
    """`state unlock --force` deleted a live holder's lease: its next renewal (If-Match on an object
    now gone) tells it so, and it writes nothing more."""
    from nikkei_deepar.state.remote import _Held

    remote = store(s3, lease_seconds=5.0)
    with remote.lock(command="retrain"):
        keeper = remote._keeper
        assert keeper is not None
        store(s3).break_lease()
        with pytest.raises(ConditionFailed):
            remote.renew(keeper.held)
        keeper.lost = "the lease was cleared"  # what the keeper's thread records on that answer
        with pytest.raises(LockHeldError, match="the lease was cleared while this command ran"):
            remote.update(lambda ledger: ledger.upsert_job(job("late")))
        assert isinstance(keeper.held, _Held)
    assert store(s3).load().jobs == []
