#!/usr/bin/env python3
"""Writes the generated seed corpora of the fuzz targets (those too large to
commit) under OUT/<target>/, from the committed test fixtures:
  onnx_import    every fixture model, its large initializers emptied (the
                 importer references them without reading their bytes)
  package        packages compiled from two fixture models (when a
                 resa-compile is given): plan + weights header only, and plan +
                 a weights file of shrunken tensors whose size the plan states
                 (its plan resealed by the harness: the length's top bit); and
                 a package of random weights (--weights=random: header only)
  tokenizer_json the committed tokenizer.json fixtures
Usage: make_seeds.py OUT [--resa-compile PATH]"""
import argparse, json, pathlib, shutil, struct, subprocess, sys, tempfile

root = pathlib.Path(__file__).resolve().parents[2]
fixtures = root / "test" / "fixtures"


def onnx_seeds(out):
    import onnx
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted((fixtures / "models").glob("*.onnx")):
        m = onnx.load(str(path))
        for t in m.graph.initializer:
            n = 1
            for d in t.dims:
                n *= d
            if n > 1024:
                t.ClearField("raw_data")
                for f in ("float_data", "int32_data", "int64_data", "double_data"):
                    t.ClearField(f)
        (out / path.name).write_bytes(m.SerializeToString())


def safetensors(tensors):
    """tensors: list of (name, dtype, shape, bytes) -> file bytes (64-aligned)."""
    header, data = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
        data += b"\0" * (-len(data) % 64)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-(8 + len(h)) % 64)
    return struct.pack("<Q", len(h)) + h + data


def package_seeds(out, compile_tool):
    out.mkdir(parents=True, exist_ok=True)
    sizes = {"F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "F64": 8, "I8": 1, "U8": 1, "BOOL": 1}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = pathlib.Path(tmp)
        subprocess.run(["protoc", f"-I{root / 'runtime' / 'proto'}", f"--python_out={tmp}", "plan.proto"],
                       check=True)
        sys.path.insert(0, str(tmp))
        import plan_pb2
        for model in ("llama-sdpa-op18", "gpt2-sdpa-op18"):
            pkg = tmp / model
            subprocess.run([compile_tool, str(fixtures / "models" / f"{model}.onnx"), "-o", str(pkg)],
                           check=True, capture_output=True)
            plan_bytes = (pkg / "plan.pb").read_bytes()
            weights = (pkg / "weights.safetensors").read_bytes()
            (hlen,) = struct.unpack("<Q", weights[:8])
            # Plan + the weights header alone (load fails on the size check).
            (out / f"{model}-header").write_bytes(struct.pack("<I", len(plan_bytes)) + plan_bytes +
                                                  weights[:8 + hlen])
            # A consistent small package: every tensor cut to its first elements.
            header = json.loads(weights[8:8 + hlen])
            tensors = []
            for name, e in header.items():
                if name == "__metadata__":
                    continue
                n = min(8, (e["data_offsets"][1] - e["data_offsets"][0]) // sizes[e["dtype"]])
                begin = 8 + hlen + e["data_offsets"][0]
                tensors.append((name, e["dtype"], [n], weights[begin:begin + n * sizes[e["dtype"]]]))
            small = safetensors(tensors)
            p = plan_pb2.Plan()
            p.ParseFromString(plan_bytes)
            p.weights_bytes = len(small)
            p.ClearField("checksum")
            pb = p.SerializeToString()
            # The top bit of the length: the harness seals the changed plan.
            (out / f"{model}-small").write_bytes(struct.pack("<I", len(pb) | 1 << 31) + pb + small)
            # A whole package of random weights: its weights file is the header alone.
            subprocess.run([compile_tool, str(fixtures / "models" / f"{model}.onnx"), "-o", str(pkg),
                            "--weights=random:1"], check=True, capture_output=True)
            plan_bytes = (pkg / "plan.pb").read_bytes()
            (out / f"{model}-random").write_bytes(struct.pack("<I", len(plan_bytes)) + plan_bytes +
                                                  (pkg / "weights.safetensors").read_bytes())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--resa-compile")
    a = ap.parse_args()
    onnx_seeds(a.out / "onnx_import")
    if a.resa_compile:
        package_seeds(a.out / "package", a.resa_compile)
    tj = a.out / "tokenizer_json"
    tj.mkdir(parents=True, exist_ok=True)
    for f in (fixtures / "tokenizers").glob("*.json"):
        shutil.copy(f, tj / f.name)


if __name__ == "__main__":
    main()
