#!/usr/bin/python3
"""Writes small ai.onnx.ml models (tests/golden/ml/<name>/model.onnx + input_0.npy)
built with onnx.helper, for the ONNX Runtime differential test
(tests/ort/compare_with_ort.py). Deterministic; run with Debian's python3:

    /usr/bin/python3 tests/golden/gen/gen_ml.py
"""
import os

import numpy as np
from onnx import TensorProto, helper, save

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ml")
rng = np.random.default_rng(3)


def write(name, nodes, n_features, outputs, opset_ml=1):
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_features])
    graph = helper.make_graph(nodes, name, [x], outputs)
    model = helper.make_model(graph, producer_name="tiffin-gen-ml",
                              opset_imports=[helper.make_opsetid("", 13),
                                             helper.make_opsetid("ai.onnx.ml", opset_ml)])
    model.ir_version = 8
    d = os.path.join(ROOT, name)
    os.makedirs(d, exist_ok=True)
    save(model, os.path.join(d, "model.onnx"))
    np.save(os.path.join(d, "input_0.npy"), rng.standard_normal((6, n_features)).astype(np.float32))


def out(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


write("scaler", [helper.make_node("Scaler", ["X"], ["Y"], domain="ai.onnx.ml",
                                  offset=[0.5, -1.0, 2.0], scale=[2.0, 0.5, -1.5])],
      3, [out("Y", TensorProto.FLOAT, ["N", 3])])

for post in ("NONE", "LOGISTIC", "SOFTMAX"):
    write(f"linear_classifier_3_{post.lower()}",
          [helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=list(rng.standard_normal(12)), intercepts=[0.1, -0.2, 0.3],
                            classlabels_ints=[4, 7, 9], post_transform=post)],
          4, [out("label", TensorProto.INT64, ["N"]), out("scores", TensorProto.FLOAT, ["N", 3])])
    write(f"linear_classifier_binary_{post.lower()}",
          [helper.make_node("LinearClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                            coefficients=list(rng.standard_normal(4)), intercepts=[0.25],
                            classlabels_ints=[0, 1], post_transform=post)],
          4, [out("label", TensorProto.INT64, ["N"]), out("scores", TensorProto.FLOAT, ["N", 2])])

# Two trees over 3 features; tree 0: x0 <= 0.1 ? (x2 < -0.3 ? leaf : leaf) : leaf.
tree = dict(
    nodes_treeids=[0, 0, 0, 0, 0, 1, 1, 1],
    nodes_nodeids=[0, 1, 2, 3, 4, 0, 1, 2],
    nodes_featureids=[0, 2, 0, 0, 0, 1, 0, 0],
    nodes_values=[0.1, -0.3, 0, 0, 0, 0.4, 0, 0],
    nodes_modes=["BRANCH_LEQ", "BRANCH_LT", "LEAF", "LEAF", "LEAF", "BRANCH_GT", "LEAF", "LEAF"],
    nodes_truenodeids=[1, 3, 0, 0, 0, 1, 0, 0],
    nodes_falsenodeids=[2, 4, 0, 0, 0, 2, 0, 0],
    nodes_missing_value_tracks_true=[0] * 8,
    nodes_hitrates=[1.0] * 8,
)
leaves = [(0, 2), (0, 3), (0, 4), (1, 1), (1, 2)]
write("tree_regressor_sum",
      [helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1,
                        target_treeids=[t for t, _ in leaves], target_nodeids=[n for _, n in leaves],
                        target_ids=[0] * 5, target_weights=[1.5, -0.5, 2.0, 0.25, -1.0],
                        base_values=[0.5], aggregate_function="SUM", **tree)],
      3, [out("Y", TensorProto.FLOAT, ["N", 1])])
cls_ids = [0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 2]
write("tree_classifier_softmax",
      [helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "scores"], domain="ai.onnx.ml",
                        class_treeids=[t for t, _ in leaves for _ in range(3)],
                        class_nodeids=[n for _, n in leaves for _ in range(3)],
                        class_ids=cls_ids, class_weights=list(np.round(rng.random(15), 3)),
                        classlabels_int64s=[10, 20, 30], post_transform="SOFTMAX", **tree)],
      3, [out("label", TensorProto.INT64, ["N"]), out("scores", TensorProto.FLOAT, ["N", 3])])
print("wrote", sorted(os.listdir(ROOT)))
