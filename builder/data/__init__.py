"""Data: built-in, downloaded and uploaded datasets, a project's data choice, the model-against-data check, samples
for trying a model, and Normalization's adapt. Imports builder.model and below."""
