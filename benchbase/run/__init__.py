"""Running a suite: plan (suites → cells), the runner, the results store, executors, torchrun."""
