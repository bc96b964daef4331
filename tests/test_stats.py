"""stats() schema and exact counters."""

import pytest

from timelog import Timelog

try:
    from model import INT64_MAX, INT64_MIN, RefModel, run_maintenance
except ImportError:  # pragma: no cover
    from tests.model import INT64_MAX, INT64_MIN, RefModel, run_maintenance

SCHEMA = {
    "storage": ["segments_l0", "segments_l1", "pages_total", "records_estimate", "min_ts", "max_ts", "tombstone_count"],
    "memtable": ["active_records", "ooo_records", "sealed_runs"],
    "operational": [
        "seals_total",
        "ooo_budget_hits",
        "backpressure_waits",
        "flushes_total",
        "compactions_total",
        "compaction_retries",
    ],
    "handles": ["retired_count", "drained_count", "retired_queue_len", "pins", "alloc_failures"],
}


@pytest.mark.parametrize("mode", ["disabled", "background"])
def test_schema(mode):
    with Timelog(maintenance=mode) as log:
        for st in (log.stats(), (log.extend((i, i) for i in range(1000)), log.stats())[1]):
            assert isinstance(st, dict)
            for section, keys in SCHEMA.items():
                assert isinstance(st[section], dict), section
                for k in keys:
                    assert k in st[section], f"{section}.{k}"
                    v = st[section][k]
                    if k in ("min_ts", "max_ts"):
                        assert v is None or isinstance(v, int)
                    else:
                        assert isinstance(v, int) and not isinstance(v, bool), f"{section}.{k}={v!r}"
                        assert v >= 0, f"{section}.{k}={v!r}"


def test_stats_is_a_fresh_dict(make_log):
    log = make_log()
    a = log.stats()
    a["storage"]["records_estimate"] = 99
    assert log.stats()["storage"]["records_estimate"] == 0


def test_empty_stats(make_log):
    log = make_log()
    st = log.stats()
    assert st["storage"]["records_estimate"] == 0
    assert st["storage"]["min_ts"] is None and st["storage"]["max_ts"] is None
    assert st["memtable"]["active_records"] == 0
    assert st["handles"]["pins"] == 0


def test_records_estimate_exact_through_layers(make_log):
    m = RefModel()
    log = make_log(memtable_max_bytes=4096, busy_policy="silent")
    def check():
        st = log.stats()["storage"]
        assert st["records_estimate"] == len(m) == len(log)
        assert st["min_ts"] == m.min_ts()
        assert st["max_ts"] == m.max_ts()

    for i in range(2000):
        ts = (i * 37) % 500
        log.append(ts, i)
        m.append(ts, i)
    check()
    log.delete(100, 200)
    m.delete(100, 200)
    check()
    log.flush()
    check()
    log.delete(5)
    m.delete(5)
    log.append(5, "new")
    m.append(5, "new")
    check()
    run_maintenance(log)
    check()
    log.cutoff(300)
    m.cutoff(300)
    check()
    run_maintenance(log)
    check()
    log.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi")])
    m.extend([(INT64_MIN, "lo"), (INT64_MAX, "hi")])
    check()
    del log[:]
    m.delete(None, None)
    check()


def test_counters_move(make_log):
    log = make_log(memtable_max_bytes=4096, busy_policy="silent")
    log.extend((i, i) for i in range(5000))
    st = log.stats()
    assert st["operational"]["seals_total"] >= 1
    assert st["memtable"]["sealed_runs"] >= 1
    log.flush()
    st = log.stats()
    assert st["memtable"]["sealed_runs"] == 0
    assert st["operational"]["flushes_total"] >= 1
    assert st["storage"]["segments_l0"] >= 1
    assert st["storage"]["pages_total"] >= 1
    run_maintenance(log)
    st = log.stats()
    assert st["operational"]["compactions_total"] >= 1
    assert st["storage"]["segments_l1"] >= 1


def test_tombstone_count_and_ooo(make_log):
    log = make_log()
    log.append(100, "a")
    log.append(50, "ooo")
    st = log.stats()
    assert st["memtable"]["ooo_records"] >= 1
    log.delete(1, 10)
    log.delete(20)
    assert log.stats()["storage"]["tombstone_count"] >= 1


def test_pins_counted(make_log):
    log = make_log()
    log.extend((i, i) for i in range(10))
    it1 = log.all()
    it2 = log.range(2, 5)
    assert log.stats()["handles"]["pins"] >= 1
    it1.close()
    it2.close()
    assert log.stats()["handles"]["pins"] == 0
