"""timelog.distributed.ShardedTimelog on a real two-process Dask LocalCluster.

One module-scoped cluster serves every test; the last test kills a worker process.
"""
import os
import pathlib
import random
import re
import signal
import subprocess
import sys
import time

import pytest

pytest.importorskip("dask.distributed", reason="timelog.distributed needs dask.distributed: pip install 'timelog[distributed]'")
pytest.importorskip("dask.dataframe", reason="timelog.distributed needs dask.dataframe: pip install 'timelog[distributed]'")
np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")

from distributed import Client, LocalCluster  # noqa: E402

from timelog import Timelog, TimelogError  # noqa: E402
from timelog.distributed import ShardedTimelog  # noqa: E402

DOCS = pathlib.Path(__file__).resolve().parent.parent / "docs"


@pytest.fixture(scope="module")
def client():
    cluster = LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                           dashboard_address=":0")
    c = Client(cluster)
    try:
        yield c
    finally:
        c.close()
        cluster.close()


def rows_of(log, t1=None, t2=None):
    return list(log.range(t1, t2))


def test_bad_inputs(client):
    with pytest.raises(ValueError, match="bucket"):
        ShardedTimelog(client, bucket=0)
    with pytest.raises(ValueError, match="bucket"):
        ShardedTimelog(client, bucket=-5)
    with pytest.raises(TypeError):
        ShardedTimelog(client, bucket=1.5)
    with pytest.raises(TypeError):
        ShardedTimelog(client, bucket=True)
    with pytest.raises(ValueError, match="shards"):
        ShardedTimelog(client, bucket=10, shards=0)
    with pytest.raises(TypeError):
        ShardedTimelog(client)                       # bucket is required
    with pytest.raises((TypeError, ValueError)):
        ShardedTimelog(client, bucket=10, no_such_option=1)
    with ShardedTimelog(client, bucket=10, maintenance="disabled") as log:
        with pytest.raises(ValueError, match="timestamps but"):
            log.extend([1, 2, 3], ["a"])
        with pytest.raises(TypeError):
            log.append(1.5, "x")
        with pytest.raises(OverflowError):
            log.append(2**63, "x")
        with pytest.raises(TypeError):
            log.extend([("a", 1)])
        with pytest.raises(ValueError):
            log.delete(5, 1)
        with pytest.raises(ValueError):
            log.count_by(0)
        with pytest.raises(ValueError):
            log[1:5:2]
        with pytest.raises(TypeError, match=r"log\.at\(5\)"):
            log[5]
        with pytest.raises(ValueError):
            log.range(None, None).next_batch(-1)
        assert len(log) == 0 and log.min_ts() is None and log.max_ts() is None
        assert rows_of(log) == []
    with pytest.raises(TimelogError, match="closed"):
        len(log)
    log.close()                                     # idempotent


def test_differential(client):
    """Random writes and reads against one local Timelog (ties, negative timestamps)."""
    rng = random.Random(20240601)
    ref = Timelog(maintenance="disabled")
    with ShardedTimelog(client, bucket=7, origin=-3, maintenance="disabled",
                        prefetch_rows=5) as log:
        serial = 0
        for step in range(60):
            op = rng.random()
            if op < 0.35:
                n = rng.randint(0, 60)
                ts = [rng.randint(-150, 150) for _ in range(n)]
                objs = [f"e{serial + k}" for k in range(n)]
                serial += n
                if rng.random() < 0.5:
                    log.extend(np.array(ts, dtype=np.int64), objs)
                else:
                    log.extend(list(zip(ts, objs)))
                ref.extend(list(zip(ts, objs)))
            elif op < 0.5:
                t = rng.randint(-150, 150)
                if rng.random() < 0.5:
                    log.append(t, f"a{serial}")
                else:
                    log[t] = f"a{serial}"
                ref.append(t, f"a{serial}")
                serial += 1
            elif op < 0.62:
                t1 = rng.choice([None, rng.randint(-160, 160)])
                t2 = rng.choice([None, rng.randint(-160, 160)])
                if t1 is not None and t2 is not None and t1 > t2:
                    t1, t2 = t2, t1
                log.delete(t1, t2)
                ref.delete(t1, t2)
            elif op < 0.67:
                t = rng.randint(-150, 150)
                del log[t]
                ref.delete(t)
            elif op < 0.70:
                t = rng.randint(-200, -100)
                log.cutoff(t)
                ref.cutoff(t)
            t1 = rng.choice([None, rng.randint(-160, 160)])
            t2 = rng.choice([None, rng.randint(-160, 160)])
            assert rows_of(log, t1, t2) == list(ref.range(t1, t2))
            assert log.count(t1, t2) == len(ref.range(t1, t2))
            t = rng.randint(-150, 150)
            assert log.at(t) == ref.at(t)
            assert (t in log) == (t in ref)
        assert len(log) == len(ref) > 0
        assert list(log) == list(ref)
        assert log.min_ts() == ref.min_ts() and log.max_ts() == ref.max_ts()
        it = log[-100:100]
        got = []
        while batch := it.next_batch(rng.randint(1, 9)):
            got.extend(batch)
        assert got == list(ref.range(-100, 100))
        it = log.range(None, None)
        assert it.next_batch(3) == list(ref)[:3]
        it.close()
        assert it.next_batch(3) == []
        pd.testing.assert_series_equal(log.to_pandas(), ref.to_pandas())
        pd.testing.assert_series_equal(log.to_pandas(-50, 50, name="x"),
                                       ref.to_pandas(-50, 50, name="x"))
        for every, origin, t1, t2 in [(10, 0, None, None), (3, -2, -40, 77), (1000, 5, None, 0)]:
            starts, counts = log.count_by(every, t1, t2, origin=origin)
            want_starts, want_counts = ref.count_by(every, t1, t2, origin=origin)
            assert starts.dtype == np.int64 and counts.dtype == np.int64
            assert starts.tolist() == want_starts.tolist()
            assert counts.tolist() == want_counts.tolist()
        stats = log.stats()
        assert sorted(stats) == [0, 1]
        assert sum(s["storage"]["records_estimate"] >= 0 for s in stats.values()) == 2
    ref.close()


def test_records_spread_over_both_workers(client):
    with ShardedTimelog(client, bucket=100, maintenance="disabled") as log:
        assert log.shards == 2
        where = log.where()
        assert len({addr for _, addr in where.values()}) == 2
        assert len({pid for pid, _ in where.values()}) == 2
        assert sorted(log.workers) == sorted(client.scheduler_info()["workers"])
        log.extend(np.arange(1000, dtype=np.int64), list(range(1000)))
        per_shard = {i: log._wait(i, log._call(i, "count", None, None)) for i in range(2)}
        assert per_shard == {0: 500, 1: 500}
        assert log.shard_of(0) == 0 and log.shard_of(100) == 1 and log.shard_of(-1) == 1
        # a range of one bucket reaches only its shard
        log.delete(0, 50)
        assert log.count(0, 100) == 50 and len(log) == 950


def test_payloads_only_cloudpickle_can_send(client):
    with ShardedTimelog(client, bucket=10, maintenance="disabled") as log:
        log.extend([(1, lambda: 41), (15, lambda: 42)])
        assert [f() for _, f in log] == [41, 42]


def test_more_shards_than_workers(client):
    with ShardedTimelog(client, bucket=5, shards=3, maintenance="disabled") as log:
        log.extend([(t, t) for t in range(-20, 20)])
        assert [t for t, _ in log] == list(range(-20, 20))
        assert len(set(log.workers)) == 2


def test_save_writes_one_file_per_shard(client, tmp_path):
    ref = Timelog(maintenance="disabled")
    with ShardedTimelog(client, bucket=10, maintenance="disabled") as log:
        pairs = [(t % 37 - 18, t) for t in range(200)]
        log.extend(pairs)
        ref.extend(pairs)
        paths = log.save(tmp_path)              # the workers share this machine's disk
        assert sorted(paths) == [0, 1]
        loaded = [Timelog.load(paths[i]) for i in range(2)]
        assert sum(len(x) for x in loaded) == len(ref)
        for i, part in enumerate(loaded):
            assert all(log.shard_of(t) == i for t, _ in part)
            part.close()
    ref.close()


def test_save_then_load_restores_every_shard(client, tmp_path):
    rng = random.Random(11)
    pairs = [(rng.randint(-300, 300), f"v{i}") for i in range(500)]
    with ShardedTimelog(client, bucket=16, origin=3, shards=3, maintenance="disabled") as log:
        log.extend(pairs)
        log.delete(-50, 20)
        want = list(log)
        log.save(tmp_path)
    with ShardedTimelog.load(client, tmp_path, busy_policy="flush") as back:
        assert (back.bucket, back.origin, back.shards) == (16, 3, 3)
        assert list(back) == want
        assert [a.tolist() for a in back.count_by(50)] == \
            [a.tolist() for a in _counts_of(want, 50)]
        back.append(7, "new")                  # a loaded log takes writes
        assert back.at(7)[-1] == "new"


def _counts_of(rows, every):
    ref = Timelog(maintenance="disabled")
    ref.extend(rows)
    out = ref.count_by(every)
    ref.close()
    return out


def test_load_of_a_bad_directory_names_the_problem(client, tmp_path):
    with pytest.raises(TimelogError, match="layout.json does not exist"):
        ShardedTimelog.load(client, tmp_path)
    (tmp_path / "layout.json").write_text("{not json")
    with pytest.raises(TimelogError, match="not a readable layout"):
        ShardedTimelog.load(client, tmp_path)
    (tmp_path / "layout.json").write_text(
        '{"format": "timelog.distributed", "version": 9, "bucket": 4, "origin": 0, "shards": 2}')
    with pytest.raises(TimelogError, match="layout version 9"):
        ShardedTimelog.load(client, tmp_path)
    with ShardedTimelog(client, bucket=4, maintenance="disabled") as log:
        log.extend([(t, t) for t in range(40)])
        log.save(tmp_path)
    (tmp_path / "shard-1.timelog").write_bytes(b"garbage")
    with pytest.raises(TimelogError, match="shard 1"):
        ShardedTimelog.load(client, tmp_path)
    (tmp_path / "shard-1.timelog").unlink()
    with pytest.raises(TimelogError, match="shard-1.timelog"):
        ShardedTimelog.load(client, tmp_path)


def test_to_dask_dataframe(client):
    ref = Timelog(maintenance="disabled")
    rng = random.Random(7)
    pairs = [(rng.randint(-500, 500), {"k": i}) for i in range(400)]
    ref.extend(pairs)
    with ShardedTimelog(client, bucket=64, origin=10, maintenance="disabled") as log:
        log.extend(pairs)
        for t1, t2 in [(None, None), (-100, 250), (600, 700)]:
            ddf = log.to_dask_dataframe(t1, t2)
            assert list(ddf.columns) == ["ts", "value"]
            if t1 == 600:
                assert len(ddf.compute()) == 0
                continue
            assert ddf.known_divisions
            assert all((d - 10) % 64 == 0 or d == t1 for d in ddf.divisions[:-1])
            df = ddf.compute()
            want = list(ref.range(t1, t2))
            assert list(zip(df["ts"].tolist(), df["value"].tolist())) == want
            assert df.index.tolist() == [t for t, _ in want]
            assert ddf.divisions[-1] == want[-1][0]
    ref.close()


def test_user_guide_example(client):
    """The "Scaling out" example of docs/user-guide.md, on the test cluster."""
    text = (DOCS / "user-guide.md").read_text()
    section = text[text.index("## Scaling out"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    assert "Client(LocalCluster(n_workers=2))" in code
    code = code.replace("Client(LocalCluster(n_workers=2))", "__client__")
    exec(compile(code, "user-guide.md", "exec"), {"__client__": client})


def test_import_without_dask_names_the_extra():
    code = ("import sys; sys.modules['dask'] = None; sys.modules['distributed'] = None\n"
            "try:\n    import timelog.distributed\nexcept ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'timelog[distributed]'" in out


def test_lost_worker_raises_naming_the_shard(client):
    """Runs last: kills the worker process holding shard 1 of the module cluster."""
    log = ShardedTimelog(client, bucket=10, maintenance="disabled")
    log.extend([(t, t) for t in range(40)])
    pid, addr = log.where()[1]
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 60
    while addr in client.scheduler_info()["workers"] and time.monotonic() < deadline:
        time.sleep(0.1)
    for call in (len, lambda lg: lg.at(15), lambda lg: list(lg), lambda lg: lg.to_pandas(),
                 lambda lg: lg.extend([(15, "x")]), lambda lg: lg.count_by(5)):
        with pytest.raises(TimelogError, match=r"shard 1 \(worker .*\).*lost"):
            call(log)
    assert log.at(5) == [5]                        # shard 0 still answers
