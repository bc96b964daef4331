"""Check the README's first command in a fresh clone, exactly as a new user types it.

    python .ci/fresh_clone.py --workdir DIR

1. `git clone` this checkout (its committed HEAD) into DIR/clone.
2. Create a fresh virtual environment DIR/venv.
3. Take the first ```bash block of the clone's README.md and run it with bash, in the
   root of the clone, with that venv activated (so `pip` and `python` are the venv's).
4. Check the demo's output ends with "closed: True".
Used by the `fresh-clone` tox env.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_bash_block(readme):
    with open(readme, encoding="utf-8") as f:
        m = re.search(r"^```bash\n(.*?)^```", f.read(), re.S | re.M)
    if not m:
        sys.exit(f"no ```bash block in {readme}")
    return m.group(1).strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    args = parser.parse_args()
    work = os.path.abspath(args.workdir)
    clone, venv = os.path.join(work, "clone"), os.path.join(work, "venv")
    for d in (clone, venv):
        shutil.rmtree(d, ignore_errors=True)
    subprocess.run(["git", "clone", "--quiet", ROOT, clone], check=True)
    subprocess.run([sys.executable, "-m", "venv", venv], check=True)
    command = first_bash_block(os.path.join(clone, "README.md"))
    print("+ (in a fresh clone, venv activated)", command, flush=True)
    env = dict(os.environ)
    for var in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"):
        env.pop(var, None)
    bindir = os.path.join(venv, "bin")
    env["PATH"] = bindir + os.pathsep + env["PATH"]
    env["VIRTUAL_ENV"] = venv
    proc = subprocess.run(["bash", "-e", "-c", command], cwd=clone, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    print(proc.stdout[-3000:])
    if proc.returncode != 0:
        sys.exit(f"fresh-clone: FAILED, the README's first command exited with {proc.returncode}")
    if not proc.stdout.rstrip().endswith("closed: True"):
        sys.exit("fresh-clone: FAILED, the demo's output does not end with 'closed: True'")
    print(f"fresh-clone: OK, `{command}` works in a fresh clone")


if __name__ == "__main__":
    main()
