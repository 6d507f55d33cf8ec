import os
import sys
from pathlib import Path

os.environ.setdefault("AMARANTH_USE_YOSYS", "builtin")
sys.path.insert(0, str(Path(__file__).parent))
