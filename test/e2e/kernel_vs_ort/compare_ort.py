#!/usr/bin/env python3
"""Compare resa CPU kernels with onnxruntime, one single-node model per case.

Usage:
    python3 compare_ort.py --driver PATH/TO/kernel_check [--out DIR] [--filter SUBSTR]

For every case below this script builds a one-node ONNX model with
onnx.helper, runs it with onnxruntime (CPU) on seeded random inputs, and
writes DIR/<case>/{case.txt, *.npy} (inputs, attributes, ORT outputs). It then
runs the C++ driver (test/e2e/kernel_vs_ort/kernel_check.cpp, linked against
libresa_kernels.a) over all case directories; the driver executes the resa
kernel and compares. Exit status is the driver's (0 = all cases pass).

Build the driver, e.g.:
    g++ -std=c++17 -O2 -Ikernels/include test/e2e/kernel_vs_ort/kernel_check.cpp \
        build-kernels/kernels/libresa_kernels.a -o build-kernels/kernel_check
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper

F, I64, I32, B, F16 = TensorProto.FLOAT, TensorProto.INT64, TensorProto.INT32, TensorProto.BOOL, TensorProto.FLOAT16
NP_TO_ONNX = {np.float32: F, np.float64: TensorProto.DOUBLE, np.int64: I64, np.int32: I32, np.bool_: B,
              np.float16: F16, np.int8: TensorProto.INT8, np.uint8: TensorProto.UINT8}
rng = np.random.default_rng(1234)
CASES = []


def rn(*shape, lo=-2.0, hi=2.0):
    return rng.uniform(lo, hi, size=shape).astype(np.float32)


def ri(*shape, lo=-5, hi=6, dt=np.int64):
    return rng.integers(lo, hi, size=shape).astype(dt)


def case(name, op, inputs, attrs=None, opset=18, domain="", outputs=1, out_types=None, atol=1e-5):
    CASES.append(dict(name=name, op=op, inputs=inputs, attrs=attrs or {}, opset=opset, domain=domain,
                      outputs=outputs, out_types=out_types or [F] * outputs, atol=atol))


def run_ort(c):
    ins, names, feeds = [], [], {}
    for i, a in enumerate(c["inputs"]):
        if a is None:
            names.append("")
            continue
        n = f"in{i}"
        names.append(n)
        ins.append(helper.make_tensor_value_info(n, NP_TO_ONNX[a.dtype.type], a.shape))
        feeds[n] = a
    while names and names[-1] == "":
        names.pop()
    attrs = {}
    for k, v in c["attrs"].items():
        attrs[k] = helper.make_tensor(k, NP_TO_ONNX[v.dtype.type], v.shape, v.flatten().tolist()) \
            if isinstance(v, np.ndarray) else v
    outs = [f"out{i}" for i in range(c["outputs"])]
    node = helper.make_node(c["op"], names, outs, domain=c["domain"] or None, **attrs)
    graph = helper.make_graph([node], "g", ins, [helper.make_tensor_value_info(o, t, None)
                                                 for o, t in zip(outs, c["out_types"])])
    opsets = [helper.make_opsetid("", c["opset"])]
    if c["domain"]:
        opsets.append(helper.make_opsetid(c["domain"], 1))
    model = helper.make_model(graph, opset_imports=opsets, ir_version=10 if c["opset"] < 23 else 11)
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def write_case(c, d, results):
    os.makedirs(d, exist_ok=True)
    key = c["op"] if not c["domain"] else c["domain"] + "." + c["op"]
    lines = [f"op {key}", f"opset {c['opset']}", f"outputs {c['outputs']}"]
    for i, a in enumerate(c["inputs"]):
        if a is None:
            lines.append(f"input {i} -")
        else:
            np.save(os.path.join(d, f"in{i}.npy"), a)
            lines.append(f"input {i} in{i}.npy")
    for k, v in c["attrs"].items():
        if isinstance(v, np.ndarray):
            np.save(os.path.join(d, f"attr_{k}.npy"), v)
            lines.append(f"attr {k} tensor attr_{k}.npy")
        elif isinstance(v, bool) or isinstance(v, int):
            lines.append(f"attr {k} int {int(v)}")
        elif isinstance(v, float):
            lines.append(f"attr {k} float {v!r}")
        elif isinstance(v, str):
            lines.append(f"attr {k} string {v}")
        elif isinstance(v, (list, tuple)) and all(isinstance(x, int) for x in v):
            lines.append(f"attr {k} ints " + " ".join(map(str, v)))
        else:
            lines.append(f"attr {k} floats " + " ".join(repr(float(x)) for x in v))
    for i, r in enumerate(results):
        if r is None:
            continue
        np.save(os.path.join(d, f"out{i}.npy"), np.array(r, order="C"))
        lines.append(f"expect {i} out{i}.npy {c['atol']}")
    with open(os.path.join(d, "case.txt"), "w") as f:
        f.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------- elementwise
case("add_bcast", "Add", [rn(2, 3, 4), rn(3, 1)])
case("add_i64", "Add", [ri(2, 3), ri(3)], out_types=[I64])
case("sub_i32", "Sub", [ri(4, 1, dt=np.int32), ri(1, 5, dt=np.int32)], out_types=[I32])
case("mul_scalar", "Mul", [rn(3, 4), rn()])
case("div_f32", "Div", [rn(5, 4), rn(4, lo=0.5, hi=2)])
case("div_i64_trunc", "Div", [ri(6, lo=-20, hi=20), np.array([3, -3, 4, -7, 5, 2], np.int64)], out_types=[I64])
case("pow_f32", "Pow", [rn(3, 4, lo=0.1, hi=3), rn(4)])
case("pow_int_exp", "Pow", [rn(3, 4), np.array(2, np.int64)])
case("mod_i64", "Mod", [ri(8, lo=-20, hi=20), np.array([3, -3, 4, -7, 5, 2, -6, 9], np.int64)], out_types=[I64])
case("mod_fmod", "Mod", [rn(8, lo=-9, hi=9), rn(8, lo=1, hi=3)], {"fmod": 1})
case("max3", "Max", [rn(2, 3), rn(3), rn(2, 1)])
case("min2", "Min", [rn(2, 3), rn(2, 3)])
case("sum3", "Sum", [rn(2, 3), rn(3), rn(2, 1)])
case("mean3", "Mean", [rn(2, 3), rn(3), rn(2, 1)])
for op in ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"]:
    case(op.lower() + "_i64", op, [ri(3, 4, lo=0, hi=3), ri(4, lo=0, hi=3)], out_types=[B])
    case(op.lower() + "_f32", op, [np.round(rn(3, 4)), np.round(rn(3, 1))], out_types=[B])
for op in ["And", "Or", "Xor"]:
    case(op.lower(), op, [rng.random((3, 4)) > 0.5, rng.random((4,)) > 0.5], out_types=[B])
case("not", "Not", [rng.random((3, 4)) > 0.5], out_types=[B])
case("where_bcast", "Where", [rng.random((3, 1)) > 0.5, rn(3, 4), rn(4)])
case("where_i64", "Where", [rng.random((2, 3)) > 0.5, ri(2, 3), ri(1)], out_types=[I64])
x_special = np.array([1.0, np.nan, np.inf, -np.inf, 0.0, -2.5], np.float32)
case("isnan", "IsNaN", [x_special], out_types=[B])
case("isinf", "IsInf", [x_special], out_types=[B])
case("isinf_pos", "IsInf", [x_special], {"detect_negative": 0}, out_types=[B])
case("clip", "Clip", [rn(4, 5), np.array(-0.5, np.float32), np.array(0.7, np.float32)], opset=13)
case("clip_max_only", "Clip", [rn(4, 5), None, np.array(0.3, np.float32)], opset=13)
case("clip_i64", "Clip", [ri(10), np.array(-2, np.int64), np.array(3, np.int64)], opset=13, out_types=[I64])
for op, lo, hi in [("Neg", -2, 2), ("Abs", -2, 2), ("Sqrt", 0.01, 4), ("Reciprocal", 0.5, 3), ("Exp", -3, 3),
                   ("Log", 0.01, 5), ("Tanh", -3, 3), ("Erf", -3, 3), ("Sigmoid", -8, 8), ("Relu", -2, 2),
                   ("Softplus", -8, 8), ("Cos", -4, 4), ("Sin", -4, 4), ("Floor", -4, 4), ("Ceil", -4, 4),
                   ("Sign", -2, 2), ("Softsign", -3, 3), ("Tan", -1, 1)]:
    case(op.lower(), op, [rn(4, 6, lo=lo, hi=hi)])
case("round_half_even", "Round", [np.array([0.5, 1.5, 2.5, -0.5, -1.5, 1.2, -2.7], np.float32)])
case("neg_i64", "Neg", [ri(5)], out_types=[I64])
case("abs_i32", "Abs", [ri(5, dt=np.int32)], out_types=[I32])
case("gelu_none", "Gelu", [rn(4, 6, lo=-4, hi=4)], opset=20)
case("gelu_tanh", "Gelu", [rn(4, 6, lo=-4, hi=4)], {"approximate": "tanh"}, opset=20)
case("leakyrelu", "LeakyRelu", [rn(4, 6)], {"alpha": 0.2})
case("ms_fastgelu", "FastGelu", [rn(2, 3, 8), rn(8)], domain="com.microsoft")
case("ms_gelu", "Gelu", [rn(2, 3, 8)], domain="com.microsoft")

# ---------------------------------------------------------------- matmul
case("matmul_batched", "MatMul", [rn(2, 1, 3, 4), rn(3, 4, 5)], atol=1e-5)
case("matmul_vec_mat", "MatMul", [rn(4), rn(2, 4, 5)])
case("matmul_mat_vec", "MatMul", [rn(2, 3, 4), rn(4)])
case("matmul_big", "MatMul", [rn(1, 7, 64), rn(64, 96)], atol=1e-4)
case("matmul_i64", "MatMul", [ri(2, 3), ri(3, 4)], out_types=[I64])
case("gemm_t", "Gemm", [rn(4, 3), rn(5, 4), rn(5)], {"transA": 1, "transB": 1, "alpha": 0.5, "beta": 2.0})
case("gemm_plain", "Gemm", [rn(3, 4), rn(4, 5), rn(3, 1)])
case("gemm_noc", "Gemm", [rn(3, 4), rn(4, 5)])

# ---------------------------------------------------------------- softmax, reductions
case("softmax13", "Softmax", [rn(2, 3, 5, lo=-5, hi=5)], {"axis": 1}, opset=13)
case("softmax_last", "Softmax", [rn(2, 3, 5, lo=-5, hi=5)], opset=18)
case("softmax11_flatten", "Softmax", [rn(2, 3, 5, lo=-5, hi=5)], {"axis": 1}, opset=11)
case("logsoftmax", "LogSoftmax", [rn(2, 3, 5, lo=-5, hi=5)], {"axis": -1}, opset=13)
case("reducemean18", "ReduceMean", [rn(2, 3, 4), np.array([1, -1], np.int64)], {"keepdims": 0})
case("reducemean13_attr", "ReduceMean", [rn(2, 3, 4)], {"axes": [1]}, opset=13)
case("reducemean_all", "ReduceMean", [rn(2, 3, 4)])
case("reducesum13", "ReduceSum", [rn(2, 3, 4), np.array([0, 2], np.int64)], opset=13)
case("reducesum11_attr", "ReduceSum", [rn(2, 3, 4)], {"axes": [0, 2], "keepdims": 0}, opset=11)
case("reducesum_noop", "ReduceSum", [rn(2, 3), np.array([], np.int64)], {"noop_with_empty_axes": 1}, opset=13)
case("reducemax", "ReduceMax", [rn(2, 3, 4), np.array([1], np.int64)])
case("reducemin_i64", "ReduceMin", [ri(2, 3, 4), np.array([2], np.int64)], out_types=[I64])
case("reduceprod", "ReduceProd", [rn(2, 3, 4, lo=0.5, hi=1.5), np.array([1], np.int64)])
case("reducel2", "ReduceL2", [rn(2, 3, 4), np.array([2], np.int64)])
case("reducesumsquare", "ReduceSumSquare", [rn(2, 3, 4), np.array([0], np.int64)])
case("reducelogsumexp", "ReduceLogSumExp", [rn(2, 3, 4), np.array([1], np.int64)])
case("argmax_last", "ArgMax", [np.round(rn(3, 6)), ], {"axis": 1, "select_last_index": 1}, out_types=[I64])
case("argmax_nokeep", "ArgMax", [rn(3, 6, 2)], {"axis": -2, "keepdims": 0}, out_types=[I64])
case("argmin", "ArgMin", [rn(3, 6)], {"axis": 0}, out_types=[I64])
case("cumsum", "CumSum", [rn(3, 5), np.array(1, np.int64)])
case("cumsum_excl_rev", "CumSum", [rn(3, 5), np.array(-1, np.int32)], {"exclusive": 1, "reverse": 1})
case("cumsum_i64", "CumSum", [ri(3, 5), np.array(0, np.int64)], out_types=[I64])

# ---------------------------------------------------------------- cast
xf = np.array([-2.7, -0.5, 0.0, 0.4, 1.5, 3.9, 100.25, -7.0], np.float32)
case("cast_f32_i64", "Cast", [xf], {"to": I64}, out_types=[I64])
case("cast_f32_i32", "Cast", [xf], {"to": I32}, out_types=[I32])
case("cast_f32_f16", "Cast", [rn(64, lo=-70000, hi=70000)], {"to": F16}, out_types=[F16], atol=0)
case("cast_f32_f16_small", "Cast", [rn(64, lo=-1e-4, hi=1e-4)], {"to": F16}, out_types=[F16], atol=0)
case("cast_f16_f32", "Cast", [rn(32).astype(np.float16)], {"to": F}, atol=0)
case("cast_f32_bool", "Cast", [xf], {"to": B}, out_types=[B])
case("cast_bool_f32", "Cast", [rng.random(6) > 0.5], {"to": F})
case("cast_i64_f32", "Cast", [ri(6, lo=-1000, hi=1000)], {"to": F})
case("cast_f64_f32", "Cast", [rng.normal(size=6)], {"to": F}, atol=0)
case("cast_i32_i64", "Cast", [ri(6, dt=np.int32)], {"to": I64}, out_types=[I64])
case("castlike", "CastLike", [xf, np.zeros(1, np.int64)], out_types=[I64])

# ---------------------------------------------------------------- shape ops
case("shape", "Shape", [rn(2, 3, 4)], out_types=[I64])
case("shape_start_end", "Shape", [rn(2, 3, 4, 5)], {"start": 1, "end": -1}, opset=15, out_types=[I64])
case("size", "Size", [rn(2, 3, 4)], out_types=[I64])
case("reshape", "Reshape", [rn(2, 3, 4), np.array([0, -1, 2], np.int64)])
case("reshape_allowzero", "Reshape", [rn(0, 3), np.array([3, 0], np.int64)], {"allowzero": 1}, opset=14)
case("expand", "Expand", [rn(3, 1), np.array([2, 1, 4], np.int64)])
case("expand_i64", "Expand", [ri(1, 3), np.array([2, 1], np.int64)], out_types=[I64])
case("concat", "Concat", [rn(2, 3), rn(2, 1), rn(2, 2)], {"axis": -1})
case("concat_i64", "Concat", [ri(2), ri(0), ri(3)], {"axis": 0}, out_types=[I64])
case("slice_basic", "Slice", [rn(5, 6), np.array([1, 0], np.int64), np.array([4, 100], np.int64),
                              np.array([0, 1], np.int64), np.array([1, 2], np.int64)])
case("slice_neg_step", "Slice", [rn(5, 6), np.array([-1], np.int64), np.array([-100], np.int64),
                                 np.array([1], np.int64), np.array([-2], np.int64)])
case("slice_neg_step2", "Slice", [rn(7), np.array([10], np.int64), np.array([1], np.int64), None,
                                  np.array([-3], np.int64)])
case("slice_empty", "Slice", [rn(4, 3), np.array([3], np.int64), np.array([1], np.int64)])
case("slice_int_max", "Slice", [rn(4, 3), np.array([1], np.int64), np.array([2**63 - 1], np.int64),
                                np.array([-1], np.int64)])
case("split18_num_outputs", "Split", [rn(7, 2)], {"num_outputs": 3}, opset=18, outputs=3)
case("split13_input", "Split", [rn(2, 6), np.array([1, 2, 3], np.int64)], {"axis": 1}, opset=13, outputs=3)
case("split11_attr", "Split", [rn(6, 2)], {"split": [2, 4]}, opset=11, outputs=2)
case("split_even", "Split", [rn(6, 2)], opset=13, outputs=3)
case("squeeze13", "Squeeze", [rn(1, 3, 1, 2), np.array([0, -2], np.int64)], opset=13)
case("squeeze_all", "Squeeze", [rn(1, 3, 1, 2)], opset=13)
case("squeeze11_attr", "Squeeze", [rn(1, 3, 1, 2)], {"axes": [2]}, opset=11)
case("unsqueeze13", "Unsqueeze", [rn(3, 2), np.array([0, -1], np.int64)], opset=13)
case("unsqueeze11_attr", "Unsqueeze", [rn(3, 2)], {"axes": [1]}, opset=11)
case("transpose", "Transpose", [rn(2, 3, 4)], {"perm": [2, 0, 1]})
case("transpose_default", "Transpose", [rn(2, 3, 4)])
case("flatten", "Flatten", [rn(2, 3, 4)], {"axis": 2})
case("flatten0", "Flatten", [rn(2, 3, 4)], {"axis": 0})
case("identity", "Identity", [rn(2, 3)])
case("gather", "Gather", [rn(5, 4), np.array([[0, -1], [3, 2]], np.int64)])
case("gather_axis1", "Gather", [rn(3, 5, 2), np.array([4, 0, -2], np.int32)], {"axis": 1})
case("gather_scalar", "Gather", [rn(3, 5), np.array(2, np.int64)], {"axis": 0})
case("gathernd", "GatherND", [rn(3, 4, 5), np.array([[0, 1], [2, 3]], np.int64)])
case("gathernd_batch", "GatherND", [rn(2, 4, 5), np.array([[[1], [3]], [[0], [2]]], np.int64)], {"batch_dims": 1})
case("gatherelements", "GatherElements", [rn(3, 4), ri(3, 2, lo=-4, hi=4)], {"axis": 1})
case("scatternd", "ScatterND", [rn(4, 3), np.array([[1], [3]], np.int64), rn(2, 3)])
case("scatternd_add", "ScatterND", [rn(4, 3), np.array([[1, 2], [1, 2]], np.int64), rn(2)], {"reduction": "add"})
case("scatterelements", "ScatterElements", [rn(3, 4), np.array([[1, 0], [3, 2], [0, 1]], np.int64), rn(3, 2)],
     {"axis": 1})
case("range_f32", "Range", [np.array(0.5, np.float32), np.array(4.1, np.float32), np.array(0.3, np.float32)])
case("range_i64", "Range", [np.array(10, np.int64), np.array(-3, np.int64), np.array(-4, np.int64)],
     out_types=[I64])
case("constantofshape", "ConstantOfShape", [np.array([2, 3], np.int64)], {"value": np.array([1.5], np.float32)})
case("constantofshape_i64", "ConstantOfShape", [np.array([4], np.int64)], {"value": np.array([7], np.int64)},
     out_types=[I64])
case("constantofshape_default", "ConstantOfShape", [np.array([2, 2], np.int64)])
case("constant_tensor", "Constant", [], {"value": rn(2, 3)})
case("constant_ints", "Constant", [], {"value_ints": [3, -1, 4]}, out_types=[I64])
case("constant_float", "Constant", [], {"value_float": 2.5})
case("tile", "Tile", [rn(2, 3), np.array([2, 3], np.int64)])
case("trilu_upper", "Trilu", [rn(2, 4, 5)])
case("trilu_lower_k", "Trilu", [rn(4, 5), np.array(-1, np.int64)], {"upper": 0}, opset=14)
case("trilu_upper_k", "Trilu", [rn(4, 5), np.array(2, np.int64)])
case("pad_constant", "Pad", [rn(2, 3), np.array([1, 0, 2, 3], np.int64), np.array(1.5, np.float32)])
case("pad_axes", "Pad", [rn(2, 3, 4), np.array([1, 2, 0, 1], np.int64), None, np.array([0, -1], np.int64)])
case("pad_negative", "Pad", [rn(3, 4), np.array([-1, 1, 0, -2], np.int64)])
case("pad_reflect", "Pad", [rn(3, 4), np.array([2, 1, 1, 3], np.int64)], {"mode": "reflect"})
case("pad_edge", "Pad", [rn(3, 4), np.array([2, 1, 1, 3], np.int64)], {"mode": "edge"})
case("nonzero", "NonZero", [np.round(rn(3, 4))], out_types=[I64])

# ---------------------------------------------------------------- norms
case("layernorm", "LayerNormalization", [rn(2, 3, 16), rn(16), rn(16)], {"epsilon": 1e-5}, opset=17,
     outputs=3, atol=1e-5)
case("layernorm_axis1", "LayerNormalization", [rn(2, 3, 4), rn(3, 4), rn(4)], {"axis": 1}, opset=17)
case("layernorm_nobias", "LayerNormalization", [rn(4, 8), rn(8)], opset=17)
case("rmsnorm23", "RMSNormalization", [rn(2, 3, 16), rn(16)], {"epsilon": 1e-6}, opset=23)
case("rmsnorm23_axis", "RMSNormalization", [rn(2, 3, 4), rn(3, 4)], {"axis": 1}, opset=23)
case("simplified_ln", "SimplifiedLayerNormalization", [rn(2, 3, 16), rn(16)], {"epsilon": 1e-6, "axis": -1},
     opset=17, outputs=2)
case("skip_simplified_ln", "SkipSimplifiedLayerNormalization", [rn(2, 3, 16), rn(2, 3, 16), rn(16), rn(16)],
     {"epsilon": 1e-6}, domain="com.microsoft", outputs=4)
case("skip_simplified_ln_nobias", "SkipSimplifiedLayerNormalization", [rn(2, 3, 16), rn(2, 3, 16), rn(16)],
     {"epsilon": 1e-6}, domain="com.microsoft", outputs=1)
case("skip_ln", "SkipLayerNormalization", [rn(2, 3, 16), rn(2, 3, 16), rn(16), rn(16), rn(16)],
     {"epsilon": 1e-5}, domain="com.microsoft", outputs=4)

# ---------------------------------------------------------------- rotary
def rope_cache(n, half):
    inv = 1.0 / (10000 ** (np.arange(half) / half))
    ang = np.arange(n)[:, None] * inv[None, :]
    return np.cos(ang).astype(np.float32), np.sin(ang).astype(np.float32)


cos, sin = rope_cache(32, 8)
case("rope23_4d_pos", "RotaryEmbedding", [rn(2, 3, 5, 16), cos, sin, ri(2, 5, lo=0, hi=32)], opset=23)
case("rope23_3d_interleaved", "RotaryEmbedding", [rn(2, 5, 48), cos, sin, ri(2, 5, lo=0, hi=32)],
     {"num_heads": 3, "interleaved": 1}, opset=23)
cos4, sin4 = rope_cache(32, 4)
case("rope23_partial", "RotaryEmbedding", [rn(2, 5, 32), cos4, sin4, ri(2, 5, lo=0, hi=32)],
     {"num_heads": 2, "rotary_embedding_dim": 8}, opset=23)
case("rope23_nopos", "RotaryEmbedding", [rn(2, 3, 5, 16), rn(2, 5, 8), rn(2, 5, 8)], opset=23)
case("ms_rope_3d", "RotaryEmbedding", [rn(2, 5, 64), ri(2, 5, lo=0, hi=32), cos, sin], {"num_heads": 4},
     domain="com.microsoft")
case("ms_rope_3d_inter", "RotaryEmbedding", [rn(2, 5, 64), ri(2, 5, lo=0, hi=32), cos, sin],
     {"num_heads": 4, "interleaved": 1}, domain="com.microsoft")
case("ms_rope_offset", "RotaryEmbedding", [rn(2, 5, 64), np.array([7], np.int64), cos, sin], {"num_heads": 4},
     domain="com.microsoft")
case("ms_rope_4d", "RotaryEmbedding", [rn(2, 4, 5, 16), ri(2, 5, lo=0, hi=32), cos, sin],
     domain="com.microsoft")
case("ms_rope_partial", "RotaryEmbedding", [rn(2, 5, 64), ri(2, 5, lo=0, hi=32), cos4, sin4],
     {"num_heads": 4, "rotary_embedding_dim": 8}, domain="com.microsoft")

# ---------------------------------------------------------------- attention (opset 23)
A = dict(opset=23, atol=2e-5)
case("attn_4d", "Attention", [rn(2, 4, 5, 8), rn(2, 4, 6, 8), rn(2, 4, 6, 8)], **A)
case("attn_4d_gqa_causal", "Attention", [rn(2, 4, 5, 8), rn(2, 2, 5, 8), rn(2, 2, 5, 8)], {"is_causal": 1}, **A)
case("attn_3d_past_causal", "Attention", [rn(2, 3, 32), rn(2, 3, 16), rn(2, 3, 16), None, rn(2, 2, 4, 8),
                                          rn(2, 2, 4, 8)],
     {"is_causal": 1, "q_num_heads": 4, "kv_num_heads": 2}, outputs=3, **A)
case("attn_bool_mask", "Attention", [rn(2, 4, 5, 8), rn(2, 4, 6, 8), rn(2, 4, 6, 8), rng.random((2, 1, 5, 6)) > 0.3],
     **A)
case("attn_float_mask", "Attention", [rn(2, 4, 5, 8), rn(2, 4, 6, 8), rn(2, 4, 6, 8), rn(5, 6)], **A)
case("attn_mask_causal", "Attention", [rn(1, 2, 4, 8), rn(1, 2, 4, 8), rn(1, 2, 4, 8), rn(4, 4)], {"is_causal": 1},
     **A)
case("attn_softcap", "Attention", [rn(1, 2, 4, 8), rn(1, 2, 4, 8), rn(1, 2, 4, 8)], {"softcap": 1.5, "scale": 0.9},
     **A)
case("attn_softcap_causal", "Attention", [rn(1, 2, 4, 8), rn(1, 2, 4, 8), rn(1, 2, 4, 8)],
     {"softcap": 1.5, "is_causal": 1}, **A)
case("attn_vdim", "Attention", [rn(1, 2, 3, 8), rn(1, 2, 4, 8), rn(1, 2, 4, 6)], **A)
case("attn_qk_out0", "Attention", [rn(1, 2, 3, 8), rn(1, 2, 4, 8), rn(1, 2, 4, 8), rn(3, 4)],
     {"qk_matmul_output_mode": 0}, outputs=4, **A)
case("attn_qk_out3", "Attention", [rn(1, 2, 3, 8), rn(1, 2, 4, 8), rn(1, 2, 4, 8), rn(3, 4)],
     {"qk_matmul_output_mode": 3}, outputs=4, **A)
case("attn_short_mask", "Attention", [rn(1, 2, 3, 8), rn(1, 2, 3, 8), rn(1, 2, 3, 8), rng.random((3, 5)) > 0.2,
                                      rn(1, 2, 2, 8), rn(1, 2, 2, 8)], outputs=3, **A)

# ---------------------------------------------------------------- GroupQueryAttention
MS = dict(domain="com.microsoft", atol=2e-5)
N, KV, H = 4, 2, 16
cosg, sing = rope_cache(64, 8)


def gqa_case(name, B, S, past, total_b, attrs, rotary=False, packed=False):
    q = rn(B, S, (N + 2 * KV) * H) if packed else rn(B, S, N * H)
    k = None if packed else rn(B, S, KV * H)
    v = None if packed else rn(B, S, KV * H)
    pk = rn(B, KV, past, H) if past else None
    pv = rn(B, KV, past, H) if past else None
    seqlens = np.array([t - 1 for t in total_b], np.int32)
    total = np.array(max(total_b) if S == 1 or past else S, np.int32)
    ins = [q, k, v, pk, pv, seqlens, total]
    if rotary:
        ins += [cosg, sing]
    a = dict(num_heads=N, kv_num_heads=KV, **attrs)
    if rotary:
        a["do_rotary"] = 1
    case(name, "GroupQueryAttention", ins, a, outputs=3, **MS)


gqa_case("gqa_prompt", 2, 5, 0, [5, 5], {})
gqa_case("gqa_prompt_rotary", 2, 5, 0, [5, 5], {}, rotary=True)
gqa_case("gqa_prompt_rotary_inter", 1, 5, 0, [5], {"rotary_interleaved": 1}, rotary=True)
gqa_case("gqa_decode", 2, 1, 6, [7, 5], {})
gqa_case("gqa_decode_rotary", 2, 1, 6, [7, 4], {}, rotary=True)
gqa_case("gqa_decode_window", 1, 1, 9, [10], {"local_window_size": 3})
gqa_case("gqa_prompt_window_softcap", 1, 6, 0, [6], {"local_window_size": 2, "softcap": 2.0, "scale": 0.3})
gqa_case("gqa_subsequent_prompt", 1, 3, 4, [7], {}, rotary=True)
gqa_case("gqa_packed", 1, 4, 0, [4], {}, packed=True)

# ---------------------------------------------------------------- MultiHeadAttention
case("mha_basic", "MultiHeadAttention", [rn(2, 3, 32), rn(2, 5, 32), rn(2, 5, 32)], {"num_heads": 4}, **MS)
case("mha_bias", "MultiHeadAttention", [rn(2, 3, 32), rn(2, 5, 32), rn(2, 5, 32), rn(96)], {"num_heads": 4}, **MS)
case("mha_padmask", "MultiHeadAttention", [rn(2, 3, 32), rn(2, 5, 32), rn(2, 5, 32), None,
                                           np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.int32)],
     {"num_heads": 4}, **MS)
case("mha_padmask_1d", "MultiHeadAttention", [rn(2, 3, 32), rn(2, 5, 32), rn(2, 5, 32), None,
                                              np.array([3, 5], np.int32)], {"num_heads": 4}, **MS)
case("mha_attn_bias", "MultiHeadAttention", [rn(2, 3, 32), rn(2, 5, 32), rn(2, 5, 32), None, None,
                                             rn(1, 4, 3, 5)], {"num_heads": 4}, **MS)
case("mha_past_causal", "MultiHeadAttention", [rn(1, 3, 32), rn(1, 3, 32), rn(1, 3, 32), None, None, None,
                                               rn(1, 4, 2, 8), rn(1, 4, 2, 8)],
     {"num_heads": 4, "unidirectional": 1}, outputs=3, **MS)
case("mha_causal", "MultiHeadAttention", [rn(1, 4, 32), rn(1, 4, 32), rn(1, 4, 32)],
     {"num_heads": 4, "unidirectional": 1}, **MS)
case("mha_cross_4d", "MultiHeadAttention", [rn(2, 3, 32), rn(2, 4, 5, 8), rn(2, 4, 5, 8)], {"num_heads": 4}, **MS)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", required=True)
    ap.add_argument("--out", default=None)
    ap.add_argument("--filter", default="")
    args = ap.parse_args()
    out = args.out or tempfile.mkdtemp(prefix="kernel_vs_ort_")
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    dirs, skipped = [], []
    for c in CASES:
        if args.filter not in c["name"]:
            continue
        try:
            results = run_ort(c)
        except Exception as e:  # onnxruntime refused the model: report, do not fail
            skipped.append((c["name"], str(e).splitlines()[0][:200]))
            continue
        d = os.path.join(out, c["name"])
        write_case(c, d, results)
        dirs.append(d)
    for n, e in skipped:
        print(f"SKIP {n}: onnxruntime: {e}")
    rc = subprocess.call([args.driver] + dirs)
    return rc


if __name__ == "__main__":
    sys.exit(main())
