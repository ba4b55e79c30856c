#ifndef RESA_ONNX_OPS_TD
#define RESA_ONNX_OPS_TD

include "OnnxDialect.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Every ONNX op has the node's inputs as one operand list and its outputs as
// one result list; the arity bounds and the attributes that must be present
// are checked by one shared verifier. Attributes that ONNX gives defaults to
// stay absent unless the node set them: kernels apply the defaults.
class ONNX_Op<string mnemonic, int minIn, int maxIn, int minOut = 1, int maxOut = 1,
              list<string> required = [], list<Trait> traits = []>
    : Op<Onnx_Dialect, mnemonic, !listconcat([Pure], traits)> {
  let arguments = (ins Variadic<AnyType>:$inputs);
  let results = (outs Variadic<AnyType>:$outputs);
  let assemblyFormat = "$inputs attr-dict `:` functional-type($inputs, $outputs)";
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    static constexpr int kMinInputs = }] # minIn # [{;
    static constexpr int kMaxInputs = }] # maxIn # [{;
    static constexpr int kMinOutputs = }] # minOut # [{;
    static constexpr int kMaxOutputs = }] # maxOut # [{;
    // Comma-separated attribute names that the node must carry.
    static constexpr const char *kRequiredAttrs = "}] # !interleave(required, ",") # [{";
  }];
  let extraClassDefinition = [{
    ::llvm::LogicalResult $cppClass::verify() {
      return ::resa::onnx::verifyOnnxOp(getOperation(), kMinInputs, kMaxInputs,
                                        kMinOutputs, kMaxOutputs, kRequiredAttrs);
    }
  }];
}

// Unbounded arity.
defvar N = -1;

class ONNX_Unary<string name, list<string> req = []> : ONNX_Op<name, 1, 1, 1, 1, req>;
class ONNX_Binary<string name> : ONNX_Op<name, 2, 2>;

foreach name = ["Neg", "Abs", "Sqrt", "Reciprocal", "Exp", "Log", "Tanh", "Erf",
                "Sigmoid", "Relu", "Softplus", "Cos", "Sin", "Floor", "Ceil", "Round",
                "Sign", "Not", "IsNaN", "IsInf", "Identity", "Gelu", "Softmax",
                "LogSoftmax", "Shape", "Size", "Transpose", "Flatten", "ArgMax",
                "ConstantOfShape"] in
  def ONNX_ # name # Op : ONNX_Unary<name>;
def ONNX_CastOp : ONNX_Unary<"Cast", ["to"]>;

foreach name = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "And", "Or", "Xor", "Equal",
                "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "MatMul", "CastLike",
                "Expand", "Reshape", "Gather", "GatherND", "GatherElements", "Tile",
                "CumSum"] in
  def ONNX_ # name # Op : ONNX_Binary<name>;

foreach name = ["Max", "Min", "Sum", "Concat"] in
  def ONNX_ # name # Op : ONNX_Op<name, 1, N>;
foreach name = ["ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd",
                "Squeeze", "Unsqueeze", "Trilu"] in
  def ONNX_ # name # Op : ONNX_Op<name, 1, 2>;
foreach name = ["Where", "Range", "ScatterND", "ScatterElements"] in
  def ONNX_ # name # Op : ONNX_Op<name, 3, 3>;

def ONNX_ConstantOp : ONNX_Op<"Constant", 0, 0>;
// onnxruntime registers this one in the default domain too (the genai
// builder emits it there); the com.microsoft spelling is below.
def ONNX_SimplifiedLayerNormalizationOp : ONNX_Op<"SimplifiedLayerNormalization", 2, 2, 1, 2>;
def ONNX_ClipOp : ONNX_Op<"Clip", 1, 3>;
def ONNX_GemmOp : ONNX_Op<"Gemm", 2, 3>;
def ONNX_SliceOp : ONNX_Op<"Slice", 3, 5>;
def ONNX_SplitOp : ONNX_Op<"Split", 1, 2, 1, N>;
def ONNX_PadOp : ONNX_Op<"Pad", 2, 4>;
def ONNX_DropoutOp : ONNX_Op<"Dropout", 1, 3, 1, 2>;
def ONNX_LayerNormalizationOp : ONNX_Op<"LayerNormalization", 2, 3, 1, 3>;
def ONNX_RMSNormalizationOp : ONNX_Op<"RMSNormalization", 2, 2>;
def ONNX_RotaryEmbeddingOp : ONNX_Op<"RotaryEmbedding", 3, 4>;
def ONNX_AttentionOp : ONNX_Op<"Attention", 3, 7, 1, 4>;

// Contrib ops of the com.microsoft domain (what onnxruntime-genai's model
// builder and onnxruntime's fusions emit).
def ONNX_MsGroupQueryAttentionOp
    : ONNX_Op<"ms.GroupQueryAttention", 7, 12, 1, 4, ["num_heads", "kv_num_heads"]>;
def ONNX_MsMultiHeadAttentionOp
    : ONNX_Op<"ms.MultiHeadAttention", 1, 10, 1, 4, ["num_heads"]>;
def ONNX_MsRotaryEmbeddingOp : ONNX_Op<"ms.RotaryEmbedding", 4, 4>;
def ONNX_MsSimplifiedLayerNormalizationOp
    : ONNX_Op<"ms.SimplifiedLayerNormalization", 2, 2, 1, 2>;
def ONNX_MsSkipSimplifiedLayerNormalizationOp
    : ONNX_Op<"ms.SkipSimplifiedLayerNormalization", 3, 4, 1, 4>;

// Not ONNX nodes: the importer's stand-ins for an omitted optional input and
// for an initializer (referenced by name, bytes left in the model file).
def ONNX_NoneOp : Op<Onnx_Dialect, "none", [Pure]> {
  let summary = "the value of an omitted optional input";
  let results = (outs NoneType:$result);
  let assemblyFormat = "attr-dict";
}

def ONNX_InitializerOp : Op<Onnx_Dialect, "initializer", [Pure]> {
  let summary = "a model initializer, referenced by name";
  let description = [{
    `name` is the ONNX initializer's name. For external data, `location`,
    `offset` and `length` say where the bytes are, relative to the model file.
    `stored_type` (f16 or bf16, with an f32 result) marks an initializer the
    model stores narrow and reads through a Cast to float
    (resa-fold-weight-casts): the value is float32, the bytes stay as stored.
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<StrAttr>:$location,
                       OptionalAttr<I64Attr>:$offset, OptionalAttr<I64Attr>:$length,
                       OptionalAttr<TypeAttrOf<AnyTypeOf<[F16, BF16]>>>:$stored_type);
  let results = (outs AnyRankedTensor:$result);
  let assemblyFormat = "$name attr-dict `:` type($result)";
  let hasVerifier = 1;
}

#endif
