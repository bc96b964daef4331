"""Child process: run one workload against one library and write its samples as JSON.

Started by harness.py as ``python benchmarks/worker.py --lib L --workload W
--params JSON --out FILE``; never imported by the parent. The script's directory is
``sys.path[0]``, so ``import timelog`` resolves to whatever the interpreter has
installed, never to the source tree.
"""

from __future__ import annotations

import argparse
import json
import sys
import traceback

import adapters
import workloads

EXIT_UNAVAILABLE = 3


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib", required=True, choices=sorted(adapters.ADAPTERS))
    ap.add_argument("--workload", required=True, choices=sorted(workloads.WORKLOADS))
    ap.add_argument("--params", required=True, help="JSON of workloads.Params fields")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    result: dict = {"lib": args.lib, "workload": args.workload}
    code = 0
    try:
        lib = adapters.load(args.lib)
        result["lib_info"] = lib.info()
        wl = workloads.WORKLOADS[args.workload]
        p = workloads.Params(**json.loads(args.params))
        workloads.clock = workloads.CLOCKS[p.clock]
        rec = workloads.Recorder()
        if lib.is_floor:
            wl.floor(p, rec)
        else:
            wl.run(lib, p, rec)
        result.update(rec.to_dict())
    except adapters.Unavailable as e:
        result["unavailable"] = str(e)
        code = EXIT_UNAVAILABLE
    except Exception as e:  # reported by the parent, which keeps going
        result["error"] = f"{type(e).__name__}: {e}"
        traceback.print_exc()
        code = 1
    with open(args.out, "w") as f:
        json.dump(result, f, default=repr)
    return code


if __name__ == "__main__":
    sys.exit(main())
