"""The option table (timelog/_options.py) is the one source of option names, types
and defaults: it agrees with the engine, the stub, help() and inspect.signature();
the engine's range checks name the option and the value."""
import ast
import inspect
import pathlib
import pickle

import pytest

import timelog
from timelog import PageSpan, PageSpanIter, Timelog, TimelogIter, _core, _options

STUB = pathlib.Path(_core.__file__).with_name("_core.pyi")


def test_table_defaults_are_the_engine_defaults():
    table = _options.defaults()
    sub = {f"{t}[{s.name!r}]": s.default
           for t in ("compaction", "adaptive")
           for s in next(o for o in _options.OPTIONS if o.name == t).sub}
    for name, engine_value in _core._engine_defaults().items():
        mine = table[name] if name in table else sub[name]
        assert mine == engine_value, f"{name}: table says {mine!r}, engine {engine_value!r}"


def test_signature_of_timelog_is_the_table():
    sig = inspect.signature(Timelog)
    assert list(sig.parameters) == [o.name for o in _options.OPTIONS]
    for o in _options.OPTIONS:
        p = sig.parameters[o.name]
        assert p.kind is inspect.Parameter.KEYWORD_ONLY
        assert p.default == o.default
    sig.bind(time_unit="us", adaptive={})
    with pytest.raises(TypeError):
        sig.bind("ms")


def test_stub_shows_the_real_defaults():
    tree = ast.parse(STUB.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Timelog")
    init = next(n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__")
    names = [a.arg for a in init.args.kwonlyargs]
    defaults = [ast.literal_eval(d) for d in init.args.kw_defaults]
    assert names == [o.name for o in _options.OPTIONS]
    assert defaults == [o.default for o in _options.OPTIONS]
    typed = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "TimelogOptions")
    assert [n.target.id for n in typed.body if isinstance(n, ast.AnnAssign)] == names


def test_help_lists_every_option_with_its_default():
    doc = Timelog.__doc__
    for o in _options.OPTIONS:
        assert f"{o.name}={o.default!r}" in doc, o.name


PUBLIC_CLASSES = [Timelog, TimelogIter, PageSpan, PageSpanIter]


def _public_callables():
    for cls in PUBLIC_CLASSES:
        # Every class of the MRO but object: Timelog's lifecycle and export
        # methods live in internal base classes.
        own = {}
        for klass in reversed(cls.__mro__[:-1]):
            own.update(vars(klass))
        for name, member in own.items():
            if name.startswith("_") and name not in ("__enter__", "__exit__"):
                continue
            if isinstance(member, (property, type(Timelog.closed))) or not callable(
                    getattr(cls, name)):
                continue
            yield f"{cls.__name__}.{name}", getattr(cls, name)


@pytest.mark.parametrize("qualname,func", list(_public_callables()),
                         ids=[q for q, _ in _public_callables()])
def test_every_public_method_has_a_signature(qualname, func):
    sig = inspect.signature(func)
    assert "<object object" not in str(sig), f"{qualname}{sig}: unreadable default"


def test_arguments_that_may_be_left_out_show_as_ellipsis():
    assert str(inspect.signature(Timelog.append)) == "(self, /, a, b=Ellipsis, *, ts=Ellipsis)"
    assert str(inspect.signature(Timelog.delete)) == "(self, /, t1, t2=Ellipsis)"
    assert inspect.getdoc(Timelog.append).startswith("Store one record")


@pytest.mark.parametrize("name,value,fragment", [
    ("memtable_max_bytes", 100, "between 1024 bytes and 64 GiB; got 100"),
    ("target_page_bytes", 1, "; got 1"),
    ("window_size", 0, "a positive int in time_unit, or None; got 0"),
    ("delete_debt_threshold", 1.5, "[0.0, 1.0] (0.0 = off); got 1.5"),
    ("ooo_budget_bytes", 2 << 20, "at most memtable_max_bytes"),
    ("adaptive", {"alpha": 0}, "adaptive['alpha'] must be a number in (0.0, 1.0]; got 0"),
    ("adaptive", {"hysteresis_pct": 101}, "adaptive['hysteresis_pct'] must be an int in [0, 100]"),
    ("adaptive", {"target_records": 0}, "adaptive['target_records'] must be a positive int"),
    ("adaptive", {"min_window": 10, "max_window": 5}, "adaptive['min_window'] must be at most"),
    ("adaptive", {"failure_backoff_pct": 1001}, "adaptive['failure_backoff_pct'] must be an int"),
])
def test_range_errors_name_the_option_and_the_value(name, value, fragment):
    with pytest.raises(ValueError) as ei:
        Timelog(maintenance="disabled", **{name: value})
    assert fragment in str(ei.value), str(ei.value)


def test_type_errors_name_the_dict_key():
    with pytest.raises(TypeError, match=r"compaction\['max_inputs'\] must be an int"):
        Timelog(compaction={"max_inputs": 1.5})
    with pytest.raises(ValueError, match=r"compaction: unknown key 7"):
        Timelog(compaction={7: 1})


def test_compatibility_options_are_validated_and_change_nothing(make_log):
    plain = make_log(adaptive={})
    compat = make_log(mostly_ordered_default=False,
                      adaptive={"failure_backoff_threshold": 3, "failure_backoff_pct": 50})
    for log in (plain, compat):
        log.extend((t, t) for t in range(5000, 0, -1))
        log.extend(range(10), range(10), mostly_ordered=False)
        log.flush()
    assert list(plain) == list(compat)
    ps, cs = plain.stats(), compat.stats()
    assert ps["storage"] == cs["storage"] and ps["operational"] == cs["operational"]
    with pytest.raises(TypeError, match="mostly_ordered_default must be a bool"):
        Timelog(mostly_ordered_default=1)


def test_reopen_and_pickling_keep_normalised_options():
    class Idx:                     # a local class: pickling an instance of it fails
        def __index__(self):
            return 4096

    log = Timelog(maintenance="disabled", memtable_max_bytes=Idx(), adaptive={"alpha": 1})
    log.append(1, "a")
    copy = pickle.loads(pickle.dumps(log))     # the options were stored as plain ints
    assert list(copy) == [(1, "a")]
    log.close()
    log.reopen()
    for t in range(1000):                      # 4096-byte memtable: seals every 256 rows
        log.append(t, t)
    assert log.stats()["operational"]["seals_total"] >= 3
    log.close()
    copy.close()


def test_stats_sections_come_from_the_engine_list():
    with Timelog(maintenance="disabled") as log:
        st = log.stats()
    assert list(st) == ["storage", "memtable", "operational", "handles"]
    assert st["storage"]["min_ts"] is None and st["storage"]["window_size"] == 3_600_000
    assert len(st["storage"]) + len(st["memtable"]) + len(st["operational"]) == 22


def test_describe_and_module_doctests():
    import doctest
    assert doctest.testmod(_options).failed == 0
    text = _options.describe()
    assert all(o.name in text for o in _options.OPTIONS)
    assert timelog.Timelog is Timelog
