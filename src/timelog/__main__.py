"""`python -m timelog`: a short tour of the API on out-of-order data."""
import random

from timelog import Timelog


def main() -> None:
    rng = random.Random(42)
    # 10,000 readings one second apart (ms timestamps); 5% arrive late, out of order.
    readings = [(t * 1000, f"reading-{t}") for t in range(10_000)]
    for i in rng.sample(range(1, len(readings)), 500):
        j = max(0, i - rng.randint(1, 50))
        readings[i], readings[j] = readings[j], readings[i]

    log = Timelog(maintenance="disabled")  # we call flush() ourselves
    log.extend(readings)
    log.append(5_000_500, "late event")    # append(ts, obj)
    log.append(5_000_500, "second event")  # same timestamp: kept in insertion order
    print(f"ingested {len(log)} records, 5% of them out of order")
    print(f"time span: {log.min_ts()} .. {log.max_ts()} ms")

    window = list(log[5_000_000:5_003_000])  # half-open range [t1, t2)
    print(f"log[5_000_000:5_003_000] -> {len(window)} records, in timestamp order:")
    for ts, obj in window:
        print(f"  {ts:>9}  {obj}")
    assert [ts for ts, _ in window] == sorted(ts for ts, _ in window)

    log.delete(0, 2_000_000)   # range delete [0 s, 2000 s)
    del log[9_000_000:]        # slice delete, open end
    print(f"after deleting [0, 2_000_000) and [9_000_000, end): {len(log)} records left,"
          f" first at {log.min_ts()} ms")

    log.flush()  # seal + flush the memtable into immutable segments
    storage = log.stats()["storage"]
    print(f"after flush: {storage['segments_l0']} L0 + {storage['segments_l1']} L1 segments,"
          f" {storage['records_estimate']} visible records")
    log.close()
    print(f"closed: {log.closed}")


if __name__ == "__main__":
    main()
