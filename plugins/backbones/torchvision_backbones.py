"""torchvision backbones (placeholder until the backbone issue lands)."""
