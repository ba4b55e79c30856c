#!/usr/bin/env python3
"""Bad input gives one clear error line and a non-zero exit, never a crash.

usage: bad_input.py BIN_DIR
Each case runs a tool on a broken input and checks: exit code 1 (not a
signal), exactly one line on stderr containing 'error:' and the expected
words, and no partial package left behind.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper

HERE = os.path.dirname(os.path.abspath(__file__))
MODEL = os.path.join(HERE, "..", "fixtures", "models", "llama-eager-op18.onnx")


def tiny_model(nodes, inputs, outputs, initializers=(), domains=(("", 18),)):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid(d, v) for d, v in domains])


def case_files(work):
    """(name, argv builder, expected words) for each broken input."""
    cases = []

    def write(name, data):
        path = os.path.join(work, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    good = open(MODEL, "rb").read()
    cases.append(("truncated onnx", write("trunc.onnx", good[: len(good) // 3]),
                  ["trunc.onnx", "truncated"]))
    cases.append(("garbage onnx", write("garbage.onnx", os.urandom(4096)), ["garbage.onnx"]))
    cases.append(("empty onnx", write("empty.onnx", b""), ["empty"]))

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])
    m = tiny_model([helper.make_node("Hardmax", ["x"], ["y"], name="the_hardmax")], [x], [y])
    cases.append(("unsupported op", write("unsupported.onnx", m.SerializeToString()),
                  ["Hardmax", "ai.onnx", "the_hardmax"]))
    m = tiny_model([helper.make_node("FusedThing", ["x"], ["y"], name="n1", domain="com.example")],
                   [x], [y], domains=(("", 18), ("com.example", 1)))
    cases.append(("unsupported domain", write("domain.onnx", m.SerializeToString()),
                  ["FusedThing", "com.example", "n1"]))

    w = helper.make_tensor("w", TensorProto.FLOAT, [2048], np.zeros(2048, np.float32))
    w.data_location = TensorProto.EXTERNAL
    del w.float_data[:]
    w.external_data.add(key="location", value="missing.bin")
    m = tiny_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [x], [y], [w])
    cases.append(("missing external data", write("extern.onnx", m.SerializeToString()),
                  ["missing.bin", "missing"]))
    write("short.bin", b"\0" * 100)
    w.external_data[0].value = "short.bin"
    m = tiny_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [x], [y], [w])
    cases.append(("short external data", write("short.onnx", m.SerializeToString()),
                  ["short.bin", "too short"]))

    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, [2, 3])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, [4, 5])
    o = helper.make_tensor_value_info("o", TensorProto.FLOAT, None)
    m = tiny_model([helper.make_node("MatMul", ["a", "b"], ["o"], name="mm")], [a, b], [o])
    cases.append(("inconsistent shapes", write("shapes.onnx", m.SerializeToString()),
                  ["mm", "inconsistent shapes"]))
    m = tiny_model([helper.make_node("Relu", ["t"], ["u"], name="r1"),
                    helper.make_node("Relu", ["u"], ["t"], name="r2"),
                    helper.make_node("Add", ["x", "t"], ["y"], name="r3")], [x], [y])
    cases.append(("cyclic graph", write("cycle.onnx", m.SerializeToString()), ["cycle"]))
    m = tiny_model([helper.make_node("Add", ["x", "nowhere"], ["y"], name="dang")], [x], [y])
    cases.append(("dangling input", write("dangle.onnx", m.SerializeToString()),
                  ["dang", "nowhere"]))
    return cases


def run_case(name, argv, words, leftover=None):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    problems = []
    if proc.returncode != 1:
        problems.append(f"exit code {proc.returncode}")
    if len(lines) != 1 or "error:" not in lines[0]:
        problems.append(f"stderr is not one error line: {proc.stderr!r}")
    for w in words:
        if w not in proc.stderr:
            problems.append(f"message lacks {w!r}")
    if leftover and os.path.exists(leftover):
        problems.append(f"left {leftover} behind")
    status = "FAIL" if problems else "PASS"
    print(f"{status}: {name}" + (f": {'; '.join(problems)}" if problems else ""))
    return not problems


def main():
    bin_dir = sys.argv[1]
    compile_ = os.path.join(bin_dir, "resa-compile")
    run = os.path.join(bin_dir, "resa-run")
    ok = True
    with tempfile.TemporaryDirectory() as work:
        for name, path, words in case_files(work):
            out = os.path.join(work, "out.resa")
            ok &= run_case(name, [compile_, "--quiet", path, "-o", out], words, leftover=out)
        # Packages: truncated plan, another format version.
        pkg = os.path.join(work, "good.resa")
        subprocess.run([compile_, "--quiet", MODEL, "-o", pkg], check=True)
        plan = os.path.join(pkg, "plan.pb")
        data = open(plan, "rb").read()
        bad = os.path.join(work, "trunc.resa")
        os.makedirs(bad)
        open(os.path.join(bad, "plan.pb"), "wb").write(data[: len(data) // 2])
        ok &= run_case("truncated plan", [run, bad, "--tokens", "1,2"], ["plan"])
        other = os.path.join(work, "other.resa")
        os.makedirs(other)
        # Field 1 (format_version) appended as 999: protobuf keeps the last.
        open(os.path.join(other, "plan.pb"), "wb").write(data + b"\x08\xe7\x07")
        os.link(os.path.join(pkg, "weights.safetensors"), os.path.join(other, "weights.safetensors"))
        ok &= run_case("other format version", [run, other, "--tokens", "1,2"],
                       ["format version 999"])
        ok &= run_case("not a package", [run, work, "--tokens", "1"], ["not a resa package"])
        ok &= run_case("bad tokens", [run, pkg, "--tokens", "1,x"], ["--tokens", "'x'"])
        ok &= run_case("unknown flag", [run, pkg, "--frobnicate", "1"], ["--frobnicate"])
        ok &= run_case("token id out of range", [run, pkg, "--tokens", "1,999"], ["999", "outside"])
        ok &= run_case("negative token id", [run, pkg, "--tokens", "1,-3", "--max-new-tokens", "0",
                                             "--dump-logits", os.path.join(work, "x.npy")],
                       ["-3", "negative"])
        ok &= run_case("top-p out of range", [run, pkg, "--tokens", "1", "--top-p", "2"], ["top-p"])
        ok &= run_case("negative temperature", [run, pkg, "--tokens", "1", "--temperature", "-1"],
                       ["temperature"])
        ok &= run_case("negative max tokens", [run, pkg, "--tokens", "1", "--max-new-tokens", "-1"],
                       ["--max-new-tokens"])
        ok &= run_case("bad kept ratio", [compile_, "--quiet", MODEL, "-o", os.path.join(work, "k.resa"),
                                          "--attention=resa", "--resa-kept-ratio=2"],
                       ["kept ratio"], leftover=os.path.join(work, "k.resa"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
