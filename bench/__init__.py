"""The benchmark harness (`make bench`); outside the runtime package: nothing in orchestration imports it."""
