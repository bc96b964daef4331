"""Check that every C++ file git tracks (cpp/, src/timelog/*.h) is laid out as
.clang-format says: `clang-format --dry-run --Werror`, one report per file.

    python .ci/lint.py            # check (tox -e lint)
    python .ci/lint.py --fix      # rewrite the files in place
"""
import argparse
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUFFIXES = (".cc", ".h")


def tracked_cpp_files():
    out = subprocess.run(["git", "ls-files", "cpp", "src/timelog"], cwd=ROOT,
                         check=True, capture_output=True, text=True).stdout
    return [p for p in out.splitlines() if p.endswith(SUFFIXES)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fix", action="store_true", help="reformat in place")
    args = parser.parse_args()
    tool = shutil.which("clang-format")
    if tool is None:
        sys.exit("lint: clang-format not found (Debian: apt-get install clang-format)")
    files = tracked_cpp_files()
    if not files:
        sys.exit("lint: no C++ files found: run from a git checkout")
    cmd = [tool, "--style=file"] + (["-i"] if args.fix else ["--dry-run", "--Werror"])
    bad = []
    for path in files:
        r = subprocess.run(cmd + [path], cwd=ROOT, capture_output=True, text=True)
        if r.returncode != 0:
            bad.append(path)
            first = r.stderr.splitlines()[:3]     # where the first difference is
            sys.stderr.write("\n".join(first) + "\n")
    version = subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
    if bad:
        print(f"lint: {len(bad)} of {len(files)} C++ files differ from .clang-format "
              f"({version}); fix with: python .ci/lint.py --fix")
        for path in bad:
            print(f"  {path}")
        return 1
    print(f"lint: {len(files)} C++ files match .clang-format ({version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
