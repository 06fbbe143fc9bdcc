"""The network-training library behind ``finetune``, ``transfer-n`` and the patch-trained
Oquab rows (public through :mod:`benchbase.toolkit`)."""
