"""Tiles of an ONNX model that share the instance-norm statistics of the whole image.

An exported graph normalises every tile with the tile's own statistics, so tiles of one photo disagree
(measured: the bundled starry_night on a 1548x864 photo in 512-px tiles, mean abs difference 0.090 to the
untiled output, against 0.032 for the PyTorch model's shared-statistics tiles: patches of other colour
along the tile grid). The PyTorch path records each norm's statistics on a downscaled whole image and
reuses them for every tile (:func:`stylenet.models.norm.fixed_norm_stats`); this module does the same for
any ONNX file, exported by this version or an earlier one, by rewriting its graph twice:

- the *record* graph: the model unchanged, plus every ``InstanceNormalization`` node's per-channel mean
  and variance of its input as extra outputs ``(N, C, 1, 1)``;
- the *use* graph: every ``InstanceNormalization`` node replaced by ``x * a + b``, ``a = scale / sqrt(var +
  eps)``, ``b = bias - mean * a``, with ``mean`` and ``var`` as graph inputs ``(1, C, 1, 1)`` (float32).

Both compute in float32 whatever the file's dtype (an ``onnx-fp16`` file's activations are cast, and the
result cast back). A baked-painting AdaIN file has one such node (its AdaIN layer normalises with
``F.instance_norm``); one exported before that change normalised with its own operators: it has no node
to rewrite and its tiles keep their own statistics (:func:`norm_count` is 0).
"""
from __future__ import annotations

import os

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

_NORM = "InstanceNormalization"


def _opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _reduce_mean(name: str, x: str, out: str, opset: int) -> list[onnx.NodeProto]:
    """ReduceMean over H and W, kept as ``(N, C, 1, 1)``: axes are an attribute up to opset 17, an input from 18."""
    if opset < 18:
        return [helper.make_node("ReduceMean", [x], [out], name=name, axes=[2, 3], keepdims=1)]
    return [helper.make_node("ReduceMean", [x, "stylenet_tiles_axes_hw"], [out], name=name, keepdims=1)]


def norm_count(model: onnx.ModelProto) -> int:
    """How many ``InstanceNormalization`` nodes the graph has (0: nothing to share)."""
    return sum(n.op_type == _NORM for n in model.graph.node)


def record_graph(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` that also outputs each norm's input mean and variance (float32, ``(N, C, 1, 1)``),
    and those outputs' names, in node order (mean, var, mean, var, ...)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    opset, nodes, names = _opset(model), [], []
    for i, node in enumerate(n for n in model.graph.node if n.op_type == _NORM):
        p = f"stylenet_tiles_{i}"
        mean, var = f"{p}_mean", f"{p}_var"
        nodes += [helper.make_node("Cast", [node.input[0]], [f"{p}_x"], name=f"{p}_cast", to=TensorProto.FLOAT)]
        nodes += _reduce_mean(f"{p}_rm_mean", f"{p}_x", mean, opset)
        nodes += [helper.make_node("Sub", [f"{p}_x", mean], [f"{p}_d"], name=f"{p}_sub"),
                  helper.make_node("Mul", [f"{p}_d", f"{p}_d"], [f"{p}_d2"], name=f"{p}_square")]
        nodes += _reduce_mean(f"{p}_rm_var", f"{p}_d2", var, opset)
        names += [mean, var]
    out.graph.node.extend(nodes)
    if opset >= 18:  # ReduceMean's axes, an input from opset 18 (_reduce_mean)
        axes = np.array([2, 3], dtype=np.int64)
        out.graph.initializer.append(numpy_helper.from_array(axes, "stylenet_tiles_axes_hw"))
    out.graph.output.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in names)
    return out, names


def use_graph(model: onnx.ModelProto) -> tuple[onnx.ModelProto, list[str]]:
    """A copy of ``model`` whose norms take their mean and variance from new inputs (float32 ``(1, C, 1, 1)``,
    named as :func:`record_graph`'s outputs, in the same order), and those inputs' names."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    del out.graph.node[:]
    names, count = [], 0
    for node in model.graph.node:
        if node.op_type != _NORM:
            out.graph.node.append(node)
            continue
        p = f"stylenet_tiles_{count}"
        count += 1
        eps = next((a.f for a in node.attribute if a.name == "epsilon"), 1e-5)
        mean, var = f"{p}_mean", f"{p}_var"
        x, scale, bias = node.input
        out.graph.node.extend([
            helper.make_node("Cast", [x], [f"{p}_x"], name=f"{p}_cast", to=TensorProto.FLOAT),
            helper.make_node("Constant", [], [f"{p}_eps"], name=f"{p}_eps", value_float=eps),
            helper.make_node("Add", [var, f"{p}_eps"], [f"{p}_ve"], name=f"{p}_add_eps"),
            helper.make_node("Sqrt", [f"{p}_ve"], [f"{p}_std"], name=f"{p}_sqrt"),
            helper.make_node("Cast", [scale], [f"{p}_scale_f"], name=f"{p}_cast_scale", to=TensorProto.FLOAT),
            helper.make_node("Reshape", [f"{p}_scale_f", "stylenet_tiles_shape"], [f"{p}_scale"], name=f"{p}_rs_scale"),
            helper.make_node("Cast", [bias], [f"{p}_bias_f"], name=f"{p}_cast_bias", to=TensorProto.FLOAT),
            helper.make_node("Reshape", [f"{p}_bias_f", "stylenet_tiles_shape"], [f"{p}_bias"], name=f"{p}_rs_bias"),
            # y = x * a + b with a = scale / std, b = bias - mean * a: per-channel (1, C, 1, 1) work, then two
            # passes over the activations instead of four.
            helper.make_node("Div", [f"{p}_scale", f"{p}_std"], [f"{p}_a"], name=f"{p}_div"),
            helper.make_node("Mul", [mean, f"{p}_a"], [f"{p}_ma"], name=f"{p}_mul_mean"),
            helper.make_node("Sub", [f"{p}_bias", f"{p}_ma"], [f"{p}_b"], name=f"{p}_sub"),
            helper.make_node("Mul", [f"{p}_x", f"{p}_a"], [f"{p}_xa"], name=f"{p}_mul"),
            helper.make_node("Add", [f"{p}_xa", f"{p}_b"], [f"{p}_y"], name=f"{p}_add"),
            helper.make_node("CastLike", [f"{p}_y", x], [node.output[0]], name=f"{p}_cast_back"),
        ])
        names += [mean, var]
    shape = np.array([1, -1, 1, 1], dtype=np.int64)  # (C,) scale and bias -> (1, C, 1, 1)
    out.graph.initializer.append(numpy_helper.from_array(shape, "stylenet_tiles_shape"))
    out.graph.input.extend(helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, None, 1, 1]) for n in names)
    return out, names


class SharedStatsTiles:
    """Two onnxruntime sessions over one ONNX model: :meth:`record` a whole (downscaled) image's norm
    statistics once, then :meth:`run` every tile with them. ``feeds`` are the model's own inputs
    (``image`` ``(1, 3, H, W)`` float32 in [0, 1], and ``style_weights`` for a multi-style model)."""

    def __init__(self, model: onnx.ModelProto, make_session):
        recorder, self.stat_names = record_graph(model)
        user, _ = use_graph(model)
        self._record = make_session(recorder.SerializeToString())
        self._use = make_session(user.SerializeToString())
        self._first_output = model.graph.output[0].name

    def record(self, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self._record.run(self.stat_names, feeds)
        return {name: v[:1] for name, v in zip(self.stat_names, values)}

    def run(self, feeds: dict[str, np.ndarray], stats: dict[str, np.ndarray]) -> np.ndarray:
        return self._use.run([self._first_output], {**feeds, **stats})[0]


def shared_stats_tiles(source: str | os.PathLike | bytes) -> SharedStatsTiles | None:
    """:class:`SharedStatsTiles` for an ONNX file (its path or bytes), or None when its graph has no
    ``InstanceNormalization`` node (nothing to share)."""
    from ..onnx_export import onnx_session

    model = onnx.load_from_string(source) if isinstance(source, bytes) else onnx.load(str(source))
    return SharedStatsTiles(model, onnx_session) if norm_count(model) else None
