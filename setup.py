"""Build the one extension module, timelog._core: the Cython binding plus the C++20 engine."""
import glob
import os
import re
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:
    from Cython.Build import cythonize
except ImportError:
    sys.exit("error: building timelog needs Cython 3.x: python -m pip install 'Cython>=3,<4' "
             "(pip install . and python -m build install it for you)")

NO_COMPILER = ("error: timelog needs a C++20 compiler (g++ >= 11 or clang++ >= 14). On Debian/Ubuntu: "
               "apt-get install -y g++ ; on Fedora: dnf install gcc-c++ ; on macOS: xcode-select --install")


# TIMELOG_SANITIZE=address,undefined (or thread, or any -fsanitize= list) builds a
# sanitizer-instrumented extension for the py-asan / py-tsan tox envs. The runtime must
# then be preloaded into the (uninstrumented) interpreter: see docs/development.md.
SANITIZE = os.environ.get("TIMELOG_SANITIZE", "").strip()
if SANITIZE and not re.fullmatch(r"[a-z-]+(,[a-z-]+)*", SANITIZE):
    sys.exit(f"error: TIMELOG_SANITIZE={SANITIZE!r} is not a -fsanitize= list such as address,undefined or thread")


def sanitizer_flags(value):
    """Compile and link flags for -fsanitize=value ([] if value is empty)."""
    if not value:
        return []
    # -fno-sanitize-recover=all: a UBSan report aborts instead of printing and going on.
    return [f"-fsanitize={value}", "-fno-sanitize-recover=all", "-fno-omit-frame-pointer", "-g", "-O1"]


class BuildExt(build_ext):
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        if SANITIZE and msvc:
            sys.exit("error: TIMELOG_SANITIZE needs gcc or clang")
        san = sanitizer_flags(SANITIZE)
        # sanitizer flags come last, so their -O1 -g win over the release -O3 -g0
        flags = ["/std:c++20", "/O2"] if msvc else ["-std=c++20", "-O3", "-g0", "-pthread", "-Wall", "-Wextra"] + san
        for ext in self.extensions:
            ext.extra_compile_args = flags + ext.extra_compile_args
            ext.extra_link_args = ([] if msvc else ["-pthread"] + san) + ext.extra_link_args
        with tempfile.TemporaryDirectory() as tmp:  # fail early, with advice, if there is no usable compiler
            probe = os.path.join(tmp, "probe.cc")
            with open(probe, "w") as f:
                f.write("#include <version>\n#if __cplusplus < 202002L && !defined(_MSVC_LANG)\n#error\n#endif\nint main() {}\n")
            try:
                self.compiler.compile([probe], output_dir=tmp, extra_postargs=flags)
            except Exception as exc:
                sys.exit(f"{NO_COMPILER}\n(compiling a C++20 probe failed: {exc})")
        # Compile the sources of the (single) extension in parallel; TIMELOG_BUILD_JOBS overrides.
        jobs = int(os.environ.get("TIMELOG_BUILD_JOBS") or os.cpu_count() or 1)
        compile_one = self.compiler.compile
        def compile_parallel(sources, **kw):
            with ThreadPoolExecutor(max(1, jobs)) as pool:
                return [o for objs in pool.map(lambda s: compile_one([s], **kw), sources) for o in objs]
        self.compiler.compile = compile_parallel
        super().build_extensions()


ext = Extension(
    "timelog._core",
    sources=["src/timelog/_core.pyx"] + sorted(glob.glob("cpp/src/*.cc")),
    include_dirs=["cpp/include"],
    # The binding's include files (.pxi), declarations (.pxd) and header (.h): a change
    # to any of them regenerates and recompiles the module.
    depends=sorted(glob.glob("cpp/include/timelog/*.h") + glob.glob("cpp/src/*.h")
                   + glob.glob("src/timelog/*.pxi") + glob.glob("src/timelog/*.pxd")
                   + glob.glob("src/timelog/*.h")),
    language="c++",
)
# A sanitized build gets its own build directory: build_ext skips an extension whose
# output is newer than its sources, so sharing build/ would let a plain build reuse a
# sanitized _core.so (or the other way round) and package it.
options = {"build": {"build_base": "build/sanitize-" + SANITIZE.replace(",", "-")}} if SANITIZE else {}
setup(ext_modules=cythonize([ext], compiler_directives={"language_level": "3"}),
      cmdclass={"build_ext": BuildExt}, options=options)
