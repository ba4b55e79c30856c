// resa-form-kv-program refuses a rank-4 Softmax attention that resa-raise-attention left (in a cached call it would see only the call's own tokens); a softmax of another rank is not attention and stays.
// RUN: resa-opt %s --split-input-file --resa-raise-attention --resa-form-kv-program -verify-diagnostics | FileCheck %s

// After a raised layer, masked_fill with 0 instead of a large negative value
// is not a mask that raising knows: that attention stays as
// MatMul/Softmax/MatMul.
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x4x?x16xf32> {onnx.name = "logits"}) {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %s4 = resa.shape_expr ["batch", "seq", "4", "16"] : tensor<4xi64>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %x4 = onnx.Reshape %x, %s4 : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x4x16xf32>
  %x4t = onnx.Transpose %x4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x4x16xf32>) -> tensor<?x4x?x16xf32>
  %q = resa.attention %x4t, %x4t, %x4t {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %drop = onnx.Greater %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %q {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %drop, %zero, %ss : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  // expected-error @+1 {{this softmax over a rank-4 tensor looks like attention that resa-raise-attention does not recognise; cannot form a KV-cache program}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %q : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// Beside a raised layer: an attention whose probabilities are also returned
// (output_attentions) is not raised, and is refused.
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x4x?x16xf32> {onnx.name = "logits"}, tensor<?x4x?x?xf32> {onnx.name = "attentions"}) {
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %s4 = resa.shape_expr ["batch", "seq", "4", "16"] : tensor<4xi64>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %x4 = onnx.Reshape %x, %s4 : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x4x16xf32>
  %x4t = onnx.Transpose %x4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x4x16xf32>) -> tensor<?x4x?x16xf32>
  %q = resa.attention %x4t, %x4t, %x4t {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  %kt = onnx.Transpose %q {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  // expected-error @+1 {{this softmax over a rank-4 tensor looks like attention that resa-raise-attention does not recognise; cannot form a KV-cache program}}
  %p = onnx.Softmax %ss {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %q : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o, %p : tensor<?x4x?x16xf32>, tensor<?x4x?x?xf32>
}

// -----

// A rank-3 softmax (here over the hidden size) is not attention: the program forms.
// CHECK-LABEL: func.func @decode(
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: onnx.Softmax {{.*}} : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x64xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %a = resa.attention %x, %x, %x {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %p = onnx.Softmax %a {axis = -1 : i64} : (tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  return %p : tensor<?x?x64xf32>
}
