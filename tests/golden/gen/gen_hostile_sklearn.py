#!/usr/bin/python3
"""Writes scikit-learn pickles whose fitted state is hostile or corrupt.

Each is a real DecisionTreeClassifier / HistGradientBoostingClassifier /
LogisticRegression pickle (Debian's scikit-learn 1.2.1) with one field
rewritten the way a corrupted or malicious file would: tree children out of
range or forming a cycle, a feature index beyond the input, a huge declared
node count, shapes that do not chain. scikit-learn itself does not check
most of these at predict time (it may read out of bounds); tiffin must
refuse each with an error naming the problem. Checked by
src/importers/sklearn/sklearn_import_test.cc.

Run:  /usr/bin/python3 tests/golden/gen/gen_hostile_sklearn.py
"""
import copyreg
import io
import os
import pickle

import numpy as np
from sklearn.datasets import load_iris
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier
from sklearn.tree._tree import Tree

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "hostile_sklearn")
X, y = load_iris(return_X_y=True)


def dump_tree_with(name, edit):
    """Pickles a depth-3 tree whose Tree state is passed through `edit`."""
    model = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)

    class P(pickle.Pickler):
        def reducer_override(self, obj):
            if isinstance(obj, Tree):
                cls, args, state = obj.__reduce__()
                state = dict(state)
                state["nodes"] = state["nodes"].copy()
                edit(state)
                return cls, args, state
            return NotImplemented

    buf = io.BytesIO()
    P(buf, protocol=4).dump(model)
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(buf.getvalue())


def cycle(state):
    state["nodes"]["left_child"][1] = 0  # node 1's left child is the root


def child_out_of_range(state):
    state["nodes"]["right_child"][0] = 10**6


def shared_child(state):
    n = state["nodes"]
    leaf = int(np.where(n["left_child"] == -1)[0][0])
    n["left_child"][0] = leaf
    n["right_child"][0] = leaf


def feature_out_of_range(state):
    state["nodes"]["feature"][0] = 99


def negative_feature(state):
    state["nodes"]["feature"][0] = -7


def half_leaf(state):
    state["nodes"]["right_child"][0] = -1  # a left child without a right one


def values_too_short(state):
    state["values"] = state["values"][:2].copy()


def main():
    os.makedirs(OUT, exist_ok=True)
    dump_tree_with("tree_cycle.pkl", cycle)
    dump_tree_with("tree_child_out_of_range.pkl", child_out_of_range)
    dump_tree_with("tree_shared_child.pkl", shared_child)
    dump_tree_with("tree_feature_out_of_range.pkl", feature_out_of_range)
    dump_tree_with("tree_negative_feature.pkl", negative_feature)
    dump_tree_with("tree_half_leaf.pkl", half_leaf)
    dump_tree_with("tree_values_too_short.pkl", values_too_short)

    # Linear model whose coef_ does not match classes_ / the input width.
    m = LogisticRegression(max_iter=500).fit(X, y)
    m.coef_ = m.coef_[:2]
    with open(os.path.join(OUT, "logreg_coef_rows.pkl"), "wb") as f:
        pickle.dump(m, f, protocol=4)

    # HistGradientBoosting predictor with a child index past the node array.
    h = HistGradientBoostingClassifier(max_iter=2, random_state=0).fit(X, y)
    nodes = h._predictors[0][0].nodes
    nodes["left"][0] = 10**5
    with open(os.path.join(OUT, "hgb_child_out_of_range.pkl"), "wb") as f:
        pickle.dump(h, f, protocol=4)


if __name__ == "__main__":
    main()
