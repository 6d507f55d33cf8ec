"""Suite-wide settings: the hypothesis profiles (see tests/property/).

``ci`` (the default) is deterministic and bounded: examples derive from each test's own
source (``derandomize``), nothing is read from or written to an example database, and
every property test runs a fixed number of examples. ``explore`` (``HYPOTHESIS_PROFILE=
explore``) draws fresh random examples, many more of them, and keeps failures in the
local database; use it to hunt for bugs, then pin what it finds as a regression test.

As a package-level conftest this also puts the repository root on ``sys.path``, so
test modules can share helpers as ``tests.<package>.<module>``.

The cache of generated Verilog (``bitsmith.generator.verilog_cache``) is off for the
whole suite, subprocesses included: tests patch lowering code in-process, which the
cache key cannot see. tests/generator/test_verilog_cache.py turns it on where it tests it.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", derandomize=True, database=None, max_examples=25, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "explore", max_examples=1000, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
os.environ["BITSMITH_VERILOG_CACHE"] = "off"
