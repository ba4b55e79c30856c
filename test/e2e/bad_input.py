#!/usr/bin/env python3
"""Bad input gives one clear error line and a non-zero exit, never a crash.

usage: bad_input.py BIN_DIR
Each case runs a tool on a broken input and checks: exit code 1 (not a
signal), exactly one line on stderr containing 'error:' and the expected
words, and no partial package (nor its temporary folder) left behind.
"""
import glob
import os
import resource
import shutil
import signal
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
    # External data must stay in the model's folder: a compile must not read
    # (and embed in its package) any file the location points at.
    for location, name in (("../../etc/passwd", "climbing"), ("/etc/passwd", "absolute")):
        w.external_data[0].value = location
        m = tiny_model([helper.make_node("Add", ["x", "w"], ["y"], name="add")], [x], [y], [w])
        cases.append((f"external data location {name}",
                      write(f"ext-{name}.onnx", m.SerializeToString()),
                      ["'w'", location, "outside the model's folder"]))

    # Initializers whose data does not fill their shape (raw bytes, typed
    # elements); small ones, read when the model is imported.
    x4 = helper.make_tensor_value_info("x4", TensorProto.FLOAT, [4])
    y4 = helper.make_tensor_value_info("y4", TensorProto.FLOAT, [4])
    for kind in ("raw", "typed"):
        tensor = TensorProto(name="w4", data_type=TensorProto.FLOAT, dims=[4])
        if kind == "raw":
            tensor.raw_data = np.ones(3, np.float32).tobytes()
        else:
            tensor.float_data.extend([1.0] * 3)
        m = tiny_model([helper.make_node("Add", ["x4", "w4"], ["y4"], name="add4")], [x4], [y4],
                       [tensor])
        cases.append((f"initializer size != shape ({kind})",
                      write(f"size-{kind}.onnx", m.SerializeToString()),
                      ["'w4'", "its shape needs"]))

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


def run_case(name, argv, words, leftover=None, preexec=None):
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, preexec_fn=preexec)
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
    if leftover and glob.glob(leftover + ".tmp-*"):
        problems.append(f"left {glob.glob(leftover + '.tmp-*')} behind")
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
        ok &= random_weights_cases(work, compile_, run)
        ok &= package_cases(work, compile_, run, pkg)
        ok &= capacity_cases(work, compile_, run, pkg)
        ok &= failed_compile_cases(work, compile_)
    return 0 if ok else 1


def random_weights_cases(work, compile_, run):
    """resa-compile --weights and packages of random weights."""
    out = os.path.join(work, "random.resa")
    ok = True
    for value in ("foo", "random:", "random:12x", "random:-1", "random:18446744073709551616"):
        ok &= run_case(f"--weights={value}", [compile_, "--quiet", MODEL, "-o", out, f"--weights={value}"],
                       ["--weights", f"'{value}'", "random:SEED"], leftover=out)
    # Random weights are float: an external int64 weight cannot be made up.
    xi = helper.make_tensor_value_info("xi", TensorProto.INT64, [2048])
    yi = helper.make_tensor_value_info("yi", TensorProto.INT64, [2048])
    wi = TensorProto(name="wi", data_type=TensorProto.INT64, dims=[2048],
                     data_location=TensorProto.EXTERNAL)
    wi.external_data.add(key="location", value="absent.bin")
    m = tiny_model([helper.make_node("Add", ["xi", "wi"], ["yi"], name="addi")], [xi], [yi], [wi])
    path = os.path.join(work, "int-weight.onnx")
    onnx.save(m, path)
    ok &= run_case("--weights=random with an int64 weight", [compile_, "--quiet", path, "-o", out,
                                                             "--weights=random"],
                   ["'wi'", "int64", "--weights=random makes float weights only"], leftover=out)
    # A package of random weights whose weights file holds data after all.
    subprocess.run([compile_, "--quiet", MODEL, "-o", out, "--weights=random:3"], check=True)
    with open(os.path.join(out, "weights.safetensors"), "ab") as f:
        f.write(b"\0" * 64)
    ok &= run_case("random-weights package with data in its weights file", [run, out, "--tokens", "1,2"],
                   ["weights.safetensors", "without data must end with its header"])
    return ok


def package_cases(work, compile_, run, pkg):
    """Damaged packages: each is a copy of the good one with one change."""
    plan = open(os.path.join(pkg, "plan.pb"), "rb").read()
    header_len = int.from_bytes(open(os.path.join(pkg, "weights.safetensors"), "rb").read(8),
                                "little")

    def variant(name, plan_bytes=plan, header_edit=None):
        d = os.path.join(work, name)
        shutil.copytree(pkg, d)
        open(os.path.join(d, "plan.pb"), "wb").write(plan_bytes)
        if header_edit:
            with open(os.path.join(d, "weights.safetensors"), "r+b") as f:
                header_edit(f)
        return d

    def pad_with_tab(f):
        # The last byte of the header is padding (a space): a tab is still
        # valid JSON, so only the checksum can tell.
        f.seek(8 + header_len - 1)
        assert f.read(1) == b" "
        f.seek(8 + header_len - 1)
        f.write(b"\t")

    weights_field = b"\x42\x13weights.safetensors"  # field 8, 19 bytes
    # The plan starts with field 1 (format_version), a one-byte varint.
    assert plan.count(weights_field) == 1 and plan[0] == 0x08 and plan[1] < 0x80
    cases = [
        # One letter of the producer string: the plan still parses.
        ("corrupted plan (checksum)", variant("c1.resa", plan.replace(b"resa-compile", b"resa-compilE", 1)),
         ["plan.pb", "checksum mismatch"]),
        ("corrupted weights header (checksum)", variant("c2.resa", header_edit=pad_with_tab),
         ["plan.pb", "checksum mismatch"]),
        ("plan without its checksum", variant("c3.resa", plan[:-9]), ["plan.pb", "checksum"]),
        ("plan of format version 1", variant("c4.resa", b"\x08\x01" + plan[2:]),
         ["format version 1", "recompile"]),
        ("weights file path climbing out of the package",
         variant("c5.resa", plan.replace(weights_field, b"\x42\x13../../../etc/passwd")),
         ["../../../etc/passwd", "not a file name inside the package"]),
        ("weights file at an absolute path",
         variant("c6.resa", plan.replace(weights_field, b"\x42\x0b/etc/passwd")),
         ["/etc/passwd", "not a file name inside the package"]),
    ]
    ok = True
    for name, d, words in cases:
        ok &= run_case(name, [run, d, "--tokens", "1,2"], words)
    return ok


def capacity_cases(work, compile_, run, pkg):
    """The KV cache's capacity (--kv-pages) and the model's position table."""
    ok = run_case("prompt longer than the KV cache",
                  [run, pkg, "--kv-pages", "1", "--tokens", ",".join(["5"] * 40)],
                  ["40 tokens", "longer than the KV cache holds", "--kv-pages"])
    ok &= run_case("KV cache full part way through generation",
                   [run, pkg, "--kv-pages", "1", "--tokens", "1,2,3", "--max-new-tokens", "40"],
                   ["KV cache full"])
    ok &= run_case("negative --kv-pages", [run, pkg, "--kv-pages", "-1", "--tokens", "1"],
                   ["--kv-pages"])
    # GPT-2 learns 256 positions: a longer prompt is refused by its position
    # embedding, by name, not read out of bounds.
    gpt2 = os.path.join(work, "gpt2.resa")
    subprocess.run([compile_, "--quiet", os.path.join(os.path.dirname(MODEL), "gpt2-eager-op18.onnx"),
                    "-o", gpt2], check=True)
    ok &= run_case("prompt longer than the model's position table",
                   [run, gpt2, "--tokens", ",".join(["5"] * 300), "--max-new-tokens", "1"],
                   ["256", "outside the table"])
    return ok


def failed_compile_cases(work, compile_):
    """Compiles that fail late leave nothing behind, and never overwrite what
    is not a package."""
    out = os.path.join(work, "late.resa")

    def small_file_limit():
        # Writes past 64 KiB fail (EFBIG) rather than kill the process.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 16, 1 << 16))

    ok = run_case("compile failing while writing the package",
                  [compile_, "--quiet", MODEL, "-o", out], ["failed"], leftover=out,
                  preexec=small_file_limit)
    # A weight short of its shape is found only when its bytes are streamed
    # into the package, after the whole compile.
    m = onnx.load(MODEL)
    big = max(m.graph.initializer, key=lambda t: len(t.raw_data))
    big.raw_data = big.raw_data[:-4]
    short = os.path.join(work, "short-weight.onnx")
    onnx.save(m, short)
    ok &= run_case("initializer size != shape (a weight, found while writing)",
                   [compile_, "--quiet", short, "-o", out],
                   [f"'{big.name}'", "its shape needs"], leftover=out)
    keep = os.path.join(work, "mine")
    os.makedirs(keep)
    open(os.path.join(keep, "notes.txt"), "w").write("not a package")
    ok &= run_case("compile into a folder that is not a package",
                   [compile_, "--quiet", MODEL, "-o", keep], ["not a resa package", "not overwriting"])
    if os.listdir(keep) != ["notes.txt"] or glob.glob(keep + ".tmp-*"):
        print(f"FAIL: the folder that is not a package was changed: {os.listdir(keep)}")
        ok = False
    return ok


if __name__ == "__main__":
    sys.exit(main())
