import os
import sys

# Tests run against the INSTALLED package (pip install .), never the source tree.
_src = os.path.join(os.path.dirname(__file__), "..", "..", "python")
sys.path[:] = [p for p in sys.path if os.path.abspath(p) != os.path.abspath(_src)]
