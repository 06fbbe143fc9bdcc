"""``torchrun -m benchbase.executors SUITE OUT``, the older spelling: runs :mod:`benchbase.run.executors`."""

import runpy

if __name__ == "__main__":
    runpy.run_module("benchbase.run.executors", run_name="__main__", alter_sys=True)
