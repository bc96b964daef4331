"""Check the distribution paths end to end, the way users take them.

    python .ci/dist_check.py wheel --workdir DIR [--python python3.12 ...] [-- pytest args]
    python .ci/dist_check.py sdist --workdir DIR [--python python3.12 ...] [-- pytest args]

For every interpreter (default: each of python3.10 ... python3.13 found on PATH):

wheel
    1. In a fresh venv of that interpreter, `pip wheel` this checkout (isolated build).
    2. `auditwheel repair` it into a manylinux tag this machine's glibc allows, and
       check the repaired wheel is tagged manylinux and installs into that venv.
    3. Install ONLY the repaired wheel with its `test` extra and run the checkout's
       tests/ from DIR, outside the source tree.
sdist
    1. Once: `python -m build --sdist`; fail if setuptools reports a MANIFEST.in rule
       that matches nothing (a dead pattern).
    2. Per interpreter: a fresh venv, install ONLY that sdist with its `test` extra
       (so it is compiled from the sdist's own sources), and run the tests/ unpacked
       from the sdist itself (which also proves the sdist carries them).

Used by the `wheel` and `sdist` tox envs.
"""
import argparse
import glob
import os
import shutil
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PYTHONS = ["python3.10", "python3.11", "python3.12", "python3.13"]


def run(*cmd, cwd=None, capture=False):
    print("+", " ".join(cmd), flush=True)
    if not capture:
        subprocess.run(cmd, cwd=cwd, check=True)
        return ""
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True)
    sys.stdout.write(proc.stdout)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout)
    return proc.stdout


def venv_python(venv):
    return os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python")


def fresh_venv(interpreter, path):
    shutil.rmtree(path, ignore_errors=True)
    run(interpreter, "-m", "venv", path)
    py = venv_python(path)
    run(py, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    return py


def run_tests(py, tests, work, pytest_args):
    run(py, "-c", "import sys, timelog; print('timelog', timelog.__version__, 'on Python',"
        " sys.version.split()[0], 'from', timelog.__file__)", cwd=work)
    run(py, "-m", "pytest", tests, f"--rootdir={os.path.dirname(tests)}", "-p",
        "no:cacheprovider", "-ra", *pytest_args, cwd=work)


def check_wheel(interpreter, work, pytest_args):
    tag = interpreter.replace("python", "py")
    raw, repaired = os.path.join(work, tag, "raw"), os.path.join(work, tag, "repaired")
    for d in (raw, repaired):
        shutil.rmtree(d, ignore_errors=True)
    py = fresh_venv(interpreter, os.path.join(work, tag, "venv"))
    run(py, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", raw, ROOT)
    (wheel,) = glob.glob(os.path.join(raw, "timelog-*.whl"))
    run(sys.executable, "-m", "auditwheel", "repair", "--wheel-dir", repaired, wheel)
    (fixed,) = glob.glob(os.path.join(repaired, "timelog-*.whl"))
    if "manylinux" not in os.path.basename(fixed):
        sys.exit(f"auditwheel produced {os.path.basename(fixed)}: not a manylinux tag")
    print(f"repaired wheel: {os.path.basename(fixed)}", flush=True)
    run(py, "-m", "pip", "install", f"{fixed}[test]")
    run_tests(py, os.path.join(ROOT, "tests"), work, pytest_args)


def build_sdist(work):
    dist = os.path.join(work, "dist")
    shutil.rmtree(dist, ignore_errors=True)
    log = run(sys.executable, "-m", "build", "--sdist", "--outdir", dist, ROOT, capture=True)
    dead = [line for line in log.splitlines()
            if "warning: no files found matching" in line]
    if dead:
        sys.exit("MANIFEST.in has rules that match no file:\n  " + "\n  ".join(dead))
    (sdist,) = glob.glob(os.path.join(dist, "*.tar.gz"))
    with tarfile.open(sdist) as tar:
        tar.extractall(work, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    tests = os.path.join(work, os.path.basename(sdist)[: -len(".tar.gz")], "tests")
    return sdist, tests


def check_sdist(interpreter, sdist, tests, work, pytest_args):
    tag = interpreter.replace("python", "py")
    py = fresh_venv(interpreter, os.path.join(work, tag, "venv"))
    run(py, "-m", "pip", "install", f"{sdist}[test]")
    run_tests(py, tests, work, pytest_args)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["wheel", "sdist"])
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--python", action="append", dest="pythons",
                        help="interpreter to check (repeatable); default: 3.10-3.13 on PATH")
    args, pytest_args = parser.parse_known_args()
    if pytest_args[:1] == ["--"]:
        pytest_args = pytest_args[1:]
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    pythons = args.pythons or [p for p in DEFAULT_PYTHONS if shutil.which(p)]
    if not pythons:
        sys.exit(f"none of {', '.join(DEFAULT_PYTHONS)} is on PATH")
    print(f"checking the {args.kind} on: {', '.join(pythons)}", flush=True)
    if args.kind == "sdist":
        sdist, tests = build_sdist(work)
    for interpreter in pythons:
        print(f"== {args.kind} on {interpreter}", flush=True)
        if args.kind == "wheel":
            check_wheel(interpreter, work, pytest_args)
        else:
            check_sdist(interpreter, sdist, tests, work, pytest_args)
    print(f"{args.kind} passed on: {', '.join(pythons)}", flush=True)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
