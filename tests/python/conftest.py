import os
import sys

# Tests run against the INSTALLED package (pip install .), never the source tree; except in
# the development loop (scripts/dev.sh sets MXOPT_DEV=1 and stages the extension in python/).
_src = os.path.join(os.path.dirname(__file__), "..", "..", "python")
if not os.environ.get("MXOPT_DEV"):
    sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.abspath(_src)]
