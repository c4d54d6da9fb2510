"""Compare two traces written by trace_results.py; exit 1 and list every difference.

    python tests/numpy_trace/compare.py A.json B.json
"""

import json
import sys


def main() -> int:
    traces = []
    for path in sys.argv[1:3]:
        with open(path) as f:
            traces.append(json.load(f))
    a, b = traces
    ra, rb = a["results"], b["results"]
    bad = sorted(k for k in set(ra) | set(rb) if ra.get(k) != rb.get(k))
    for k in bad:
        print(f"{k}: numpy {a['numpy']} gives {ra.get(k)}, numpy {b['numpy']} gives {rb.get(k)}")
    if bad:
        print(f"{len(bad)} of {len(ra)} results differ between numpy {a['numpy']} and {b['numpy']}")
        return 1
    print(f"all {len(ra)} results bit-identical between numpy {a['numpy']} and {b['numpy']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
