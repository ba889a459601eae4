"""File formats: generated code and notebooks, model import, every export format, and pretrained
keras.applications starts. Imports builder.train and below."""
