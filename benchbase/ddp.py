"""``torchrun -m benchbase.ddp SUITE OUT``, the older spelling: runs :mod:`benchbase.run.ddp`."""

import runpy

if __name__ == "__main__":
    runpy.run_module("benchbase.run.ddp", run_name="__main__", alter_sys=True)
