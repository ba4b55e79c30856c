# lit configuration for resa's FileCheck tests.
import os

import lit.formats

config.name = "resa"
config.test_format = lit.formats.ShTest(execute_external=True)
config.suffixes = [".mlir", ".onnxtext", ".test"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.resa_bin_dir, "..", "test", "lit-out")
config.excludes = ["Inputs", "lit.cfg.py", "lit.site.cfg.py.in"]
config.environment["PATH"] = os.pathsep.join(
    [config.resa_bin_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.substitutions.append(("%resa_lib", config.resa_lib_dir))
config.substitutions.append(("%fixtures", os.path.join(config.resa_src_root, "test", "fixtures")))

# ONNX text cannot name nodes; tests that need node names write the model as
# protobuf text and encode it with protoc and onnx.proto (build dependencies).
import shutil

for include in ["/usr/include", "/usr/local/include"]:
    onnx_proto = os.path.join(include, "onnx", "onnx.proto")
    if shutil.which("protoc") and os.path.exists(onnx_proto):
        config.available_features.add("onnx-encode")
        config.substitutions.append(
            ("%onnx-encode", "protoc --encode=onnx.ModelProto -I%s %s" % (include, onnx_proto)))
        break
