"""Images → features: decoding, the image and feature caches, devices, the tap extractor."""
