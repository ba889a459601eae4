"""LayerCanvas core: graph -> validated Keras model -> summary. Never imports streamlit."""

import os

# TensorFlow's C++ start-up chatter is not for our users; real errors still surface as issues.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
