"""One row per catalog layer (plus variants): input shapes and params of a minimal valid graph.

Adding a layer to the catalog = one LayerSpec + one row here.
"""

from builder.model.graph import Edge, Graph, Node

IMG, SEQ, VEC = [8, 8, 3], [10, 3], [4]

# type -> list of (inputs, params); inputs are shapes, or {"shape", "dtype"}.
CASES: dict[str, list[tuple[list, dict]]] = {
    "Input": [([], {"shape": [4]}), ([], {"shape": [None, 3]})],
    "Dense": [([VEC], {"units": 3}), ([VEC], {"units": 5, "use_bias": False, "activation": "relu"}),
              ([SEQ], {"units": 2, "kernel_regularizer": {"l2": 0.01}, "bias_regularizer": {"l1": 0.1, "l2": 0.2}})],
    "Activation": [([VEC], {"activation": "tanh"})],
    "Dropout": [([VEC], {"rate": 0.5, "seed": 3}), ([IMG], {"rate": 0.2, "noise_shape": [None, 1, 1, 3]})],
    "Flatten": [([[4, 4, 2]], {})],
    "Reshape": [([[12]], {"target_shape": [3, 4]}), ([[12]], {"target_shape": [-1, 2]})],
    "Permute": [([[3, 4]], {"dims": [2, 1]})],
    "RepeatVector": [([VEC], {"n": 3})],
    "Rescaling": [([VEC], {"scale": 0.5, "offset": -1.0})],
    "BatchNormalization": [([[6]], {}), ([IMG], {"center": False}), ([IMG], {"axis": 1})],
    "LayerNormalization": [([[5, 6]], {}), ([[5, 6]], {"scale": False})],
    "Normalization": [([IMG], {}), ([VEC], {"axis": None}), ([IMG], {"mean": [1.0, 2.0, 3.0], "variance": [1.0, 4.0, 9.0]}),
                      ([[5, 6, 3]], {"axis": [1, 2], "invert": True})],
    "LayerScale": [([IMG], {"init_values": 1e-6, "projection_dim": 3})],
    "Conv1D": [([SEQ], {"filters": 4, "kernel_size": 3}), ([[10, 4]], {"filters": 6, "kernel_size": 2, "groups": 2, "padding": "same"})],
    "Conv2D": [([IMG], {"filters": 4, "kernel_size": [3, 3]}),
               ([IMG], {"filters": 6, "kernel_size": 3, "groups": 3, "use_bias": False, "strides": [2, 2]}),
               ([IMG], {"filters": 2, "kernel_size": [3, 3], "dilation_rate": 2, "padding": "same"})],
    "Conv3D": [([[6, 6, 6, 2]], {"filters": 4, "kernel_size": [3, 3, 3]})],
    "SeparableConv2D": [([IMG], {"filters": 4, "kernel_size": [3, 3]}), ([IMG], {"filters": 4, "kernel_size": 3, "depth_multiplier": 2, "use_bias": False})],
    "DepthwiseConv2D": [([IMG], {"kernel_size": [3, 3]}), ([IMG], {"kernel_size": [3, 3], "depth_multiplier": 2, "use_bias": False})],
    "Conv2DTranspose": [([IMG], {"filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same"})],
    "MaxPooling1D": [([SEQ], {})],
    "MaxPooling2D": [([IMG], {}), ([IMG], {"pool_size": [3, 3], "strides": [1, 1], "padding": "same"})],
    "AveragePooling1D": [([SEQ], {"pool_size": 2})],
    "AveragePooling2D": [([IMG], {"pool_size": [2, 2]})],
    "GlobalMaxPooling1D": [([SEQ], {})],
    "GlobalMaxPooling2D": [([IMG], {"keepdims": True})],
    "GlobalAveragePooling1D": [([SEQ], {})],
    "GlobalAveragePooling2D": [([IMG], {})],
    "UpSampling2D": [([[4, 4, 2]], {"size": [2, 3]})],
    "Resizing": [([[4, 4, 2]], {"height": 7, "width": 5, "interpolation": "nearest"}), ([[9, 6, 3]], {"height": 3, "width": 3, "interpolation": "nearest", "crop_to_aspect_ratio": True})],
    "ZeroPadding2D": [([IMG], {}), ([IMG], {"padding": [[1, 2], [0, 3]]})],
    "Cropping2D": [([IMG], {"cropping": [[1, 1], [2, 0]]}), ([IMG], {"cropping": 1})],
    "SpatialDropout1D": [([SEQ], {"rate": 0.2})],
    "SpatialDropout2D": [([IMG], {"rate": 0.2})],
    "GaussianNoise": [([VEC], {"stddev": 0.1})],
    "ReLU": [([VEC], {}), ([VEC], {"max_value": 6.0})],
    "LeakyReLU": [([VEC], {"negative_slope": 0.1})],
    "PReLU": [([IMG], {}), ([IMG], {"shared_axes": [1, 2]})],
    "ELU": [([VEC], {})],
    "Softmax": [([VEC], {})],
    "SimpleRNN": [([SEQ], {"units": 4}), ([SEQ], {"units": 4, "use_bias": False, "return_sequences": True})],
    "LSTM": [([SEQ], {"units": 4}), ([SEQ], {"units": 3, "return_sequences": True, "dropout": 0.1})],
    "GRU": [([SEQ], {"units": 4}), ([SEQ], {"units": 4, "reset_after": False})],
    "Bidirectional": [([SEQ], {"layer": {"type": "LSTM", "params": {"units": 4}}}),
                      ([SEQ], {"layer": {"type": "GRU", "params": {"units": 3, "return_sequences": True}}, "merge_mode": "sum"})],
    "TimeDistributed": [([SEQ], {"layer": {"type": "Dense", "params": {"units": 4}}}),
                        ([[4, 8, 8, 3]], {"layer": {"type": "Conv2D", "params": {"filters": 2, "kernel_size": [3, 3]}}})],
    "Embedding": [([{"shape": [5], "dtype": "int32"}], {"input_dim": 20, "output_dim": 4})],
    "MultiHeadAttention": [([[5, 8], [6, 8]], {"num_heads": 2, "key_dim": 4}),
                           ([[5, 8], [6, 6], [6, 7]], {"num_heads": 3, "key_dim": 4, "value_dim": 5, "use_bias": False})],
    "Attention": [([[5, 8], [6, 8]], {}), ([[5, 8], [6, 8], [6, 8]], {"use_scale": True, "score_mode": "concat"})],
    "Add": [([VEC, VEC, VEC], {})],
    "Subtract": [([VEC, VEC], {})],
    "Multiply": [([VEC, VEC], {})],
    "Average": [([VEC, VEC], {})],
    "Maximum": [([VEC, VEC], {})],
    "Minimum": [([VEC, VEC], {})],
    "Concatenate": [([[4], [3]], {}), ([[2, 4], [3, 4]], {"axis": 1})],
    "Dot": [([VEC, VEC], {"axes": 1}), ([[3, 4], [5, 4]], {"axes": [2, 2], "normalize": True})],
    "CustomScaleLayer": [([IMG, IMG], {"scale": 0.17})],
    "RandomFlip": [([IMG], {"seed": 1})],
    "RandomRotation": [([IMG], {"factor": 0.1})],
    "RandomZoom": [([IMG], {"height_factor": [-0.2, 0.1]})],
    "RandomTranslation": [([IMG], {"height_factor": 0.1, "width_factor": 0.2, "fill_mode": "constant"})],
    "RandomContrast": [([IMG], {"factor": 0.2})],
}


def case_graph(type_: str, inputs: list, params: dict, node_id: str = "layer") -> Graph:
    """Input node(s) -> one layer of `type_`."""
    if type_ == "Input":
        return Graph((Node(node_id, "Input", params),), (), name="case")
    nodes, edges = [], []
    for i, spec in enumerate(inputs):
        spec = spec if isinstance(spec, dict) else {"shape": spec}
        nodes.append(Node(f"in_{i}", "Input", spec))
        edges.append(Edge(f"in_{i}", node_id, i if len(inputs) > 1 else None))
    nodes.append(Node(node_id, type_, params))
    return Graph(tuple(nodes), tuple(edges), name="case")


def all_cases():
    """(test id, type, inputs, params) for every row."""
    for type_, rows in CASES.items():
        for i, (inputs, params) in enumerate(rows):
            yield f"{type_}-{i}", type_, inputs, params
