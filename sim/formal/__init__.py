"""Formal proofs of the stream contract (DESIGN.md §3) with SymbiYosys, all from PyPI.

:mod:`.harness` builds the proof harness around a component (environment assumptions,
the contract as named assertions, a tracked-element scoreboard, induction invariants
from the component's own registers); :mod:`.sby` runs SymbiYosys on it and reads the
counterexample; :mod:`.mutants` holds deliberately broken stream wrappers, so a test
can show that each property can fail.
"""
