"""Check the README's first command in a fresh clone, exactly as a new user types it.

    python .ci/fresh_clone.py --workdir DIR

1. `git clone` this checkout (its committed HEAD) into DIR/clone.
2. Create a fresh virtual environment DIR/venv.
3. Take the first ```bash block of the clone's README.md and run it with bash, in the
   root of the clone, with that venv activated (so `pip` and `python` are the venv's).
4. Check the demo's output ends with "closed: True".
5. Paste the README's Quickstart (its first ```python block) into the venv's
   interactive interpreter, started in the root of the clone, and check that every
   line it prints is what the block's `# ...` comment next to the print says.
Used by the `fresh-clone` tox env.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def first_block(readme, lang):
    with open(readme, encoding="utf-8") as f:
        m = re.search(rf"^```{lang}\n(.*?)^```", f.read(), re.S | re.M)
    if not m:
        sys.exit(f"no ```{lang} block in {readme}")
    return m.group(1).strip()


def check_quickstart(block, cwd, env):
    """Feeds the block to `python -i` as a user pasting it would (a blank line closes
    each compound statement) and compares the printed lines with the comments."""
    expected = [m.group(1).strip() for m in re.finditer(r"print\(.*\)\s+#\s*(.*)$", block, re.M)]
    if not expected:
        sys.exit("fresh-clone: FAILED, the Quickstart has no `print(...)  # expected` lines")
    pasted = re.sub(r"\n(?=\S)", "\n\n", block) + "\n\n"   # end blocks before dedents
    proc = subprocess.run(["python", "-i", "-q"], input=pasted, cwd=cwd, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    got = [line for line in proc.stdout.splitlines() if line.strip()]
    errors = [line for line in proc.stderr.splitlines() if "Error" in line]
    if proc.returncode != 0 or errors or got != expected:
        sys.exit("fresh-clone: FAILED, the Quickstart pasted into `python -i` printed\n"
                 f"{proc.stdout}{proc.stderr[-2000:]}\nexpected:\n" + "\n".join(expected))
    print(f"fresh-clone: OK, the Quickstart pasted into python -i printed {len(got)} expected lines")


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
    command = first_block(os.path.join(clone, "README.md"), "bash")
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
    check_quickstart(first_block(os.path.join(clone, "README.md"), "python"), clone, env)


if __name__ == "__main__":
    main()
