"""Multiply-accumulates of one image through each keras.applications network, with its ImageNet top, at the size
it was trained at: LayerCanvas's own count (builder.profile), written by scripts/application_macs.py."""

MACS: dict[str, float] = {}
