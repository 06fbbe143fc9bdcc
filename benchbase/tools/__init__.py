"""The engines behind single commands: ``advise`` and ``backbones check``."""
