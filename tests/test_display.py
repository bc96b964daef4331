"""Timelog._repr_html_(), repr(TimelogIter) and Timelog.plot()."""
import html.parser
import sys

import pytest

from timelog import Timelog, TimelogError, _core
from timelog import _display

try:
    from model import new_log
except ImportError:  # pragma: no cover
    from tests.model import new_log

T0 = 1_700_000_000  # 2023-11-14 22:13:20 UTC, in seconds


class Balanced(html.parser.HTMLParser):
    """Checks that every element that is opened is closed, in order."""
    VOID = {"br"}

    def __init__(self):
        super().__init__()
        self.stack, self.tags = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def parse(page):
    p = Balanced()
    p.feed(page)
    p.close()
    assert p.stack == []
    return p.tags


# ---------------------------------------------------------------- HTML view


def test_html_summary():
    with new_log(time_unit="s") as log:
        log.extend([(T0 + 60, "b"), (T0, "a")])
        page = log._repr_html_()
    parse(page)
    assert "<b>2</b> records" in page
    assert "2023-11-14 22:13:20" in page and "2023-11-14 22:14:20" in page
    for layer in ("memtable", "sealed runs", "L0 segments", "L1 segments", "tombstones"):
        assert layer in page
    assert "time_unit=s" in page


@pytest.mark.parametrize("unit, text", [
    ("s", "2023-11-14 22:13:20"),
    ("ms", "2023-11-14 22:13:20.000"),
    ("us", "2023-11-14 22:13:20.000000"),
    ("ns", "2023-11-14 22:13:20.000000000"),
])
def test_html_dates_in_unit(unit, text):
    per_s = {"s": 1, "ms": 10**3, "us": 10**6, "ns": 10**9}[unit]
    with new_log(time_unit=unit) as log:
        log.append(T0 * per_s, 1)
        assert f">{text}</span>" in log._repr_html_()


def test_format_ts():
    assert _display.format_ts(1, "ms") == "1970-01-01 00:00:00.001"
    assert _display.format_ts(-1, "ms") == "1969-12-31 23:59:59.999"
    assert _display.format_ts(T0 * 10**9 + 7, "ns") == "2023-11-14 22:13:20.000000007"
    assert _display.format_ts(2**63 - 1, "s") == str(2**63 - 1)    # past year 9999
    assert _display.format_ts(-2**63, "ns") == "1677-09-21 00:12:43.145224192"


def test_html_layers_counts():
    with new_log(memtable_max_bytes=4096) as log:
        log.extend((t, t) for t in range(1000))
        log.flush()
        log.extend([(5000, "x"), (1, "y")])
        del log[10:20]
        st = log.stats()
        page = log._repr_html_()
    assert f"<th>L0 segments</th><td>{st['storage']['segments_l0']}</td>" in page
    assert f"<th>tombstones</th><td>{st['storage']['tombstone_count']}</td>" in page
    assert f"{st['memtable']['active_records']} records" in page


def test_html_options_only_changed():
    with Timelog() as log:
        assert "default options" in log._repr_html_()
    with Timelog(busy_policy="raise", sealed_wait_ms=100, window_size=3_600_000) as log:
        assert "default options" in log._repr_html_()              # given, but defaults
    with new_log(time_unit="us", busy_policy="silent", sealed_wait_ms=5) as log:
        page = log._repr_html_()
    assert "busy_policy=&#x27;silent&#x27;" in page and "sealed_wait_ms=5" in page
    assert "maintenance=&#x27;disabled&#x27;" in page
    assert "window_size" not in page and "time_unit=us" in page


def test_html_options_follow_maintenance_mode(make_log):
    log = make_log()
    assert "maintenance=" in log._repr_html_()
    log.start_maintenance()
    assert "default options" in log._repr_html_()


def test_option_defaults_cover_every_option():
    assert set(_display._DEFAULTS) == set(_core._OPTION_NAMES)
    # Each listed default is accepted as is and shows as a default.
    opts = {k: v for k, v in _display._DEFAULTS.items() if k != "maintenance"}
    with Timelog(**opts) as log:
        assert _display.changed_options(opts, "ms") == {}
        assert "default options" in log._repr_html_()
    assert _display.changed_options({"sealed_wait_ms": True}, "ms") == {"sealed_wait_ms": True}


def test_html_escapes_and_truncates_payloads():
    class Boom:
        def __repr__(self):
            raise RuntimeError("no repr")

    class NotStr:
        def __repr__(self):
            return 42

    with new_log() as log:
        log.extend([(1, "<script>alert('x')</script>"), (2, Boom()), (3, "y" * 500),
                    (4, NotStr()), (5, b"<b>\x00</b>")])
        page = log._repr_html_()
    tags = parse(page)
    assert "script" not in tags and "<script>" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;Boom object: repr() raised RuntimeError&gt;" in page
    assert "&lt;NotStr object: repr() raised TypeError&gt;" in page
    assert "y" * 78 + "\u2026" in page and "y" * 80 not in page


def test_short_repr_limit():
    from timelog import _export
    assert _export.short_repr("a" * 200) == repr("a" * 200)[:79] + "\u2026"
    assert len(_export.short_repr(list(range(1000)))) == 80
    assert _export.short_repr("ok") == "'ok'"


def test_html_preview_first_and_last_five():
    with new_log() as log:
        log.extend((t, f"v{t}") for t in range(100))
        del log[0]
        page = log._repr_html_()
    shown = [t for t in range(100) if f"&#x27;v{t}&#x27;" in page]
    assert shown == [1, 2, 3, 4, 5, 95, 96, 97, 98, 99]
    assert "89 more records" in page


@pytest.mark.parametrize("n", [1, 9, 10, 11])
def test_html_preview_small_logs(n):
    with new_log() as log:
        log.extend((t, f"v{t}") for t in range(n))
        page = log._repr_html_()
        assert log.stats()["handles"]["pins"] == 0
    shown = [t for t in range(n) if f"&#x27;v{t}&#x27;" in page]
    assert shown == (list(range(n)) if n <= 10 else [0, 1, 2, 3, 4, 6, 7, 8, 9, 10])
    assert ("1 more record " in page) == (n == 11)


def test_html_ties_in_read_order():
    with new_log() as log:
        log.extend([(7, "second"), (3, "first"), (7, "third")])
        page = log._repr_html_()
    assert page.index("first") < page.index("second") < page.index("third")


def test_html_empty_and_closed():
    log = new_log()
    page = log._repr_html_()
    parse(page)
    assert "<b>0</b> records" in page and "(empty)" in page
    log.append(1, "<i>")
    log.close()
    page = log._repr_html_()
    parse(page)
    assert "closed" in page and "&lt;i&gt;" not in page and "records" not in page


def test_html_theme_neutral():
    with new_log() as log:
        log.append(1, 1)
        page = log._repr_html_()
    # No hard-coded text or background colours: inherit the notebook theme's.
    assert "color:inherit" in page and "background:transparent" in page
    style = page[page.index("<style>"):page.index("</style>")].lower()
    for fixed in ("#", "rgb(", "white;", "black", "background-color"):
        assert fixed not in style


# ---------------------------------------------------------------- iterator repr


def test_iter_repr():
    with new_log() as log:
        log.extend((t, t) for t in range(10))
        assert repr(log[2:5]) == "<timelog.TimelogIter [2, 5) rows_left=3>"
        assert repr(iter(log)) == "<timelog.TimelogIter [None, None) rows_left=10>"
        assert repr(log.since(8)) == "<timelog.TimelogIter [8, None) rows_left=2>"
        assert repr(log.until(3)) == "<timelog.TimelogIter [None, 3) rows_left=3>"
        assert repr(log.equal(4)) == "<timelog.TimelogIter [4, 5) rows_left=1>"
        assert repr(reversed(log)) == "<timelog.TimelogIter [None, None) reversed rows_left=10>"
        assert repr(log.range(5, 5)) == "<timelog.TimelogIter empty range rows_left=0>"
        assert repr(log.range(7, 2)) == "<timelog.TimelogIter empty range rows_left=0>"
        assert repr(log[20:30]) == "<timelog.TimelogIter [20, 30) rows_left=0>"
        it = log[2:5]
        it.next_batch(2)
        assert repr(it) == "<timelog.TimelogIter [2, 5) rows_left=1>"
        next(it)
        assert repr(it) == "<timelog.TimelogIter [2, 5) rows_left=0>"
        it2 = log[-2**63:2**63 - 1]
        assert repr(it2) == "<timelog.TimelogIter [None, 9223372036854775807) rows_left=10>"
        it2.close()
        assert repr(it2) == "<timelog.TimelogIter [None, 9223372036854775807) rows_left=0>"
        it3 = log.all()
    assert repr(it3) == "<timelog.TimelogIter [None, None) log closed>"


def test_iter_repr_after_reopen():
    log = new_log()
    it = log.all()
    log.close()
    log.reopen()
    assert repr(it).endswith("log closed>")          # a stale iterator of the old engine
    log.close()


# ---------------------------------------------------------------- plot


@pytest.fixture
def mpl():
    matplotlib = pytest.importorskip("matplotlib")
    pytest.importorskip("numpy")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    yield matplotlib
    plt.close("all")


def bar_heights(ax):
    return [p.get_height() for p in ax.patches]


def test_plot_explicit_every(mpl):
    with new_log(time_unit="s") as log:
        base = T0 - 20                                       # a whole minute: 22:13:00
        log.extend((base + t, t) for t in [0, 1, 59, 60, 61, 300, 300])
        ax = log.plot(60)
    assert bar_heights(ax) == [3, 2, 2]
    assert ax.get_ylabel() == "records per 1 min"
    assert "time" in ax.get_xlabel()
    assert isinstance(ax.xaxis.get_major_formatter(), mpl.dates.ConciseDateFormatter)
    x0 = mpl.dates.num2date(ax.patches[0].get_x())
    assert (x0.year, x0.month, x0.day, x0.hour, x0.minute) == (2023, 11, 14, 22, 13)
    assert ax.patches[0].get_width() == pytest.approx(60 / 86400)


def test_plot_uses_given_axes_and_range(mpl):
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots()
    with new_log() as log:
        log.extend((t, t) for t in range(0, 10_000, 10))
        del log[5000:6000]
        out = log.plot(1000, 2000, 8000, ax=ax)
    assert out is ax
    assert bar_heights(ax) == [100, 100, 100, 100, 100]      # 5000-5999 deleted


@pytest.mark.parametrize("unit, span", [
    ("ms", 10_000), ("ms", 3_600_000), ("s", 86_400 * 30), ("us", 2_000),
    ("ns", 10**9 * 3600 * 5), ("s", 50), ("ms", 10**3 * 86400 * 365 * 3),
])
def test_plot_auto_every_about_100_buckets(mpl, unit, span):
    with new_log(time_unit=unit) as log:
        log.extend((i * span // 999, i) for i in range(1000))
        ax = log.plot()
    buckets = len(ax.patches)
    assert 35 <= buckets <= 260, buckets
    assert sum(bar_heights(ax)) == 1000


def test_nice_every_round_widths():
    assert _display.nice_every(10_000, "ms") == 100                      # 100 ms
    assert _display.nice_every(3_600_000, "ms") == 30_000                 # 30 s
    assert _display.nice_every(86_400_000, "ms") == 15 * 60_000           # 15 min
    assert _display.nice_every(86_400_000 * 100, "ms") == 86_400_000      # 1 day
    assert _display.nice_every(50, "s") == 1
    assert _display.nice_every(0, "ns") == 1
    assert _display.nice_every(10**9 * 86400 * 10_000, "ns") == 10**9 * 86400 * 100
    for unit in ("s", "ms", "us", "ns"):
        for span in (1, 77, 10**5, 10**9, 10**12, 10**15):
            every = _display.nice_every(span, unit)
            assert isinstance(every, int) and every >= 1


def test_plot_empty_and_single(mpl):
    with new_log() as log:
        ax = log.plot()
        assert ax.patches == [] or len(ax.patches) == 0
        assert ax.get_title() == "no records"
        log.append(5, "x")
        ax = log.plot()
        assert bar_heights(ax) == [1]


def test_plot_bad_inputs(mpl):
    with new_log() as log:
        log.append(1, 1)
        for bad in (0, -5):
            with pytest.raises(ValueError, match="positive int"):
                log.plot(bad)
        for bad in (1.5, "1s", True):
            with pytest.raises(TypeError, match="positive int"):
                log.plot(bad)
        with pytest.raises(TypeError):
            log.plot(10, "a")
    with pytest.raises(TimelogError):
        log.plot()


def test_plot_missing_matplotlib(monkeypatch):
    pytest.importorskip("numpy")
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with new_log() as log:
        log.append(1, 1)
        with pytest.raises(ImportError, match=r"pip install 'timelog\[plot\]'"):
            log.plot()
        with pytest.raises(ImportError, match=r"pip install 'timelog\[plot\]'"):
            log.plot(ax=object())


def test_duration_labels():
    assert _display._duration(60_000, "ms") == "1 min"
    assert _display._duration(2 * 86_400, "s") == "2 days"
    assert _display._duration(86_400 * 10**9, "ns") == "1 day"
    assert _display._duration(250, "ms") == "250 ms"
    assert _display._duration(20_000_000, "ns") == "20 ms"
    assert _display._duration(1500, "ms") == "1,500 ms"
    assert _display._duration(7, "ns") == "7 ns"
    assert _display._duration(10**6, "us") == "1 s"
    assert _display._duration(3 * 3600 * 10**6, "us") == "3 h"


def test_plot_auto_every_follows_the_range(mpl):
    with new_log() as log:
        log.extend((t, t) for t in range(0, 3_600_000, 500))       # one hour, ms
        assert log.plot().get_ylabel() == "records per 30 s"
        ax = log.plot(t1=60_000, t2=70_000)                       # ten seconds of it
        assert ax.get_ylabel() == "records per 100 ms" and sum(bar_heights(ax)) == 20
        assert log.plot(t1=10**9).get_title() == "no records"
