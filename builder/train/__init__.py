"""Training: settings, the job and its registry, evaluation, tf.distribute, the KerasTuner search, fine-tuning,
what a run records for inspection, and TensorBoard logs. Imports builder.store, builder.data, builder.model and
below."""
