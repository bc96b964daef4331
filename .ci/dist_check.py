"""Check one distribution path end to end, the way a user takes it.

    python .ci/dist_check.py wheel --workdir DIR [pytest args...]
    python .ci/dist_check.py sdist --workdir DIR [pytest args...]

1. `python -m build` the wheel (or the sdist) from this checkout into DIR/dist.
2. Create a fresh virtual environment DIR/venv and install ONLY that file, with its
   `test` extra (pytest, hypothesis, numpy), from the package index.
3. Run pytest in that venv from DIR, outside the source tree: on the checkout's
   tests/ for a wheel, on the tests/ unpacked from the sdist itself for an sdist
   (which also proves the sdist carries them).
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


def run(*cmd, cwd=None):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, cwd=cwd, check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["wheel", "sdist"])
    parser.add_argument("--workdir", required=True)
    args, pytest_args = parser.parse_known_args()
    work = os.path.abspath(args.workdir)
    dist, venv = os.path.join(work, "dist"), os.path.join(work, "venv")
    for d in (dist, venv):
        shutil.rmtree(d, ignore_errors=True)

    run(sys.executable, "-m", "build", f"--{args.kind}", "--outdir", dist, ROOT)
    pattern = "*.whl" if args.kind == "wheel" else "*.tar.gz"
    (artifact,) = glob.glob(os.path.join(dist, pattern))

    run(sys.executable, "-m", "venv", venv)
    py = os.path.join(venv, "Scripts" if os.name == "nt" else "bin", "python")
    run(py, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(py, "-m", "pip", "install", f"{artifact}[test]")

    if args.kind == "sdist":
        with tarfile.open(artifact) as tar:
            tar.extractall(work, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
        tests = os.path.join(work, os.path.basename(artifact)[: -len(".tar.gz")], "tests")
    else:
        tests = os.path.join(ROOT, "tests")
    run(py, "-c", "import timelog, sys; print('timelog', timelog.__version__, 'from', timelog.__file__)", cwd=work)
    run(py, "-m", "pytest", tests, f"--rootdir={os.path.dirname(tests)}", "-p", "no:cacheprovider",
        "-ra", *pytest_args, cwd=work)


if __name__ == "__main__":
    try:
        main()
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
