"""Run a command (pytest) against a sanitizer-instrumented timelog._core.

    python .ci/sanitized.py address,undefined -- python -m pytest tests ...
    python .ci/sanitized.py thread -- python -m pytest tests/test_threads.py ...

The interpreter itself is not instrumented, so the sanitizer runtime has to be loaded
first, with LD_PRELOAD, before the extension that needs it is imported. This script
finds the runtime of the compiler that built the extension (`$CXX`, default g++),
sets the runtime options and TIMELOG_TEST_SANITIZER (tests/conftest.py then refuses
to run against an extension without that instrumentation), runs the command and
returns its exit status. Any sanitizer report ends the process with a non-zero
status, so the command fails.
"""
import os
import shlex
import subprocess
import sys


def runtime(name):
    """Absolute path of a runtime library of the C++ compiler, e.g. libasan.so."""
    cxx = shlex.split(os.environ.get("CXX") or "g++")
    path = subprocess.run([*cxx, f"-print-file-name={name}"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        sys.exit(f"error: {' '.join(cxx)} has no {name} (install the compiler's sanitizer runtime)")
    return os.path.realpath(path)


def sanitizer_env(sanitizers):
    env = {"TIMELOG_TEST_SANITIZER": ",".join(sanitizers)}
    if "address" in sanitizers:
        # libstdc++ right after libasan: the interpreter does not link libstdc++, and
        # ASan's __cxa_throw interceptor must find the real one when it initialises,
        # or the first C++ exception dies with "CHECK failed: ... real___cxa_throw".
        env["LD_PRELOAD"] = f"{runtime('libasan.so')} {runtime('libstdc++.so.6')}"
        # detect_leaks=0: CPython does not free everything it allocated at exit (interned
        # strings, static types, module state); LeakSanitizer would report that and fail
        # every run. Payload leaks are checked exactly by refcount tests instead.
        env["ASAN_OPTIONS"] = ":".join([
            "detect_leaks=0", "halt_on_error=1", "abort_on_error=0", "exitcode=86",
            "detect_stack_use_after_return=1", "strict_string_checks=1",
            "check_initialization_order=1", "print_summary=1",
        ])
        # Every Python object allocation goes through malloc, so ASan sees use after
        # free and overflows of Python objects (pymalloc's arenas would hide them).
        env["PYTHONMALLOC"] = "malloc"
    elif "thread" in sanitizers:
        env["LD_PRELOAD"] = runtime("libtsan.so")
        # No suppressions: the interpreter is not instrumented, so TSan only sees the
        # accesses of timelog._core (and the locks everyone takes); none is reported.
        env["TSAN_OPTIONS"] = "halt_on_error=1:exitcode=66:second_deadlock_stack=1"
    if "undefined" in sanitizers:
        env["UBSAN_OPTIONS"] = "print_stacktrace=1:halt_on_error=1:exitcode=87"
    return env


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        sys.exit(__doc__)
    sanitizers = argv[0].split(",")
    command = argv[2:]
    env = sanitizer_env(sanitizers)
    if "thread" in sanitizers:
        # GCC's TSan runtime aborts with "unexpected memory mapping" when the kernel
        # randomises mmap widely; without address randomisation it runs.
        command = ["setarch", "-R", *command]
    for key in sorted(env):
        print(f"sanitized.py: {key}={env[key]}", flush=True)
    print(f"sanitized.py: {shlex.join(command)}", flush=True)
    return subprocess.run(command, env={**os.environ, **env}).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
