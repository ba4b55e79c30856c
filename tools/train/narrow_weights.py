"""Float initializers stored narrow (f16 or bf16), each read through a Cast to
float under its old name: how export.py writes the task model and
tools/build_f16_weight_fixture.py the compiler's f16-weight fixture (numpy and
onnx only; conversions round to nearest even, as torch's)."""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

MIN_CONVERTED = 1024  # smaller initializers (norm scales) stay float32
ONNX_TYPES = {"f16": TensorProto.FLOAT16, "bf16": TensorProto.BFLOAT16}


def narrow_bits(values, kind):
    """float32 array -> its f16 or bf16 bit patterns (uint16)."""
    if kind == "f16":
        with np.errstate(over="ignore"):  # beyond f16's range: inf, as torch
            return values.astype(np.float16).view(np.uint16)
    bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
    rounded = bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))
    narrow = (rounded >> np.uint32(16)).astype(np.uint16)
    nan = np.isnan(values)
    narrow[nan] = ((bits[nan] >> np.uint32(16)) | np.uint32(0x40)).astype(np.uint16)  # stay NaN
    return narrow


def narrow_initializers(mp, kind, min_elements=MIN_CONVERTED):
    """Stores each float initializer of >= min_elements as `kind` under
    <name>_<kind>, read through a Cast to float (node <name>_cast) whose
    output keeps the old name; the Casts come first. Returns how many."""
    casts, keep = [], []
    for init in mp.graph.initializer:
        if init.data_type != TensorProto.FLOAT or np.prod(init.dims) < min_elements:
            keep.append(init)
            continue
        bits = narrow_bits(numpy_helper.to_array(init), kind)
        narrow = onnx.TensorProto(name=init.name + "_" + kind, data_type=ONNX_TYPES[kind],
                                  dims=list(init.dims), raw_data=bits.tobytes())
        keep.append(narrow)
        casts.append(helper.make_node("Cast", [narrow.name], [init.name], to=TensorProto.FLOAT,
                                      name=init.name + "_cast"))
    del mp.graph.initializer[:]
    mp.graph.initializer.extend(keep)
    nodes = casts + list(mp.graph.node)
    del mp.graph.node[:]
    mp.graph.node.extend(nodes)
    return len(casts)
