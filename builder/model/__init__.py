"""The model as LayerCanvas draws it: the layer catalog, the graph, its checks, the Keras build, summaries, costs,
layout, templates, share links and run comparisons. Imports only builder.config and builder.kerasenv."""
