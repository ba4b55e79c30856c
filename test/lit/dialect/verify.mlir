// Verifier errors of the onnx and resa dialects: operand and result counts, required attributes, shape_expr results.
// RUN: resa-opt %s --split-input-file -verify-diagnostics

func.func @add_one_input(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Add' op takes 2 inputs, got 1}}
  %0 = onnx.Add %a : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----
func.func @relu_two_inputs(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Relu' op takes 1 input, got 2}}
  %0 = onnx.Relu %a, %a : (tensor<4xf32>, tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----
func.func @concat_no_inputs() {
  // expected-error @+1 {{'onnx.Concat' op takes at least 1 input, got 0}}
  %0 = onnx.Concat {axis = 0 : i64} : () -> tensor<4xf32>
  return
}

// -----
func.func @slice_range(%a: tensor<4xf32>, %i: tensor<1xi64>) {
  // expected-error @+1 {{'onnx.Slice' op takes 3 to 5 inputs, got 2}}
  %0 = onnx.Slice %a, %i : (tensor<4xf32>, tensor<1xi64>) -> tensor<4xf32>
  return
}

// -----
func.func @constant_with_input(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Constant' op takes 0 inputs, got 1}}
  %0 = onnx.Constant %a {value = dense<1.0> : tensor<4xf32>} : (tensor<4xf32>) -> tensor<4xf32>
  return
}

// -----
func.func @gqa_too_few(%q: tensor<1x3x64xf32>) {
  // expected-error @+1 {{'onnx.ms.GroupQueryAttention' op takes 7 to 12 inputs, got 3}}
  %0 = onnx.ms.GroupQueryAttention %q, %q, %q {num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  return
}

// -----
func.func @relu_two_outputs(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Relu' op has 1 output, got 2}}
  %0:2 = onnx.Relu %a : (tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>)
  return
}

// -----
func.func @split_no_outputs(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Split' op has at least 1 output, got 0}}
  onnx.Split %a : (tensor<4xf32>) -> ()
  return
}

// -----
func.func @attention_five_outputs(%q: tensor<1x2x3x4xf32>) {
  // expected-error @+1 {{'onnx.Attention' op has 1 to 4 outputs, got 5}}
  %0:5 = onnx.Attention %q, %q, %q : (tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>, tensor<1x2x3x4xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  return
}

// -----
func.func @non_tensor_result(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Relu' op results must be tensors, got 'i32'}}
  %0 = onnx.Relu %a : (tensor<4xf32>) -> i32
  return
}

// -----
func.func @cast_without_to(%a: tensor<4xf32>) {
  // expected-error @+1 {{'onnx.Cast' op requires attribute 'to'}}
  %0 = onnx.Cast %a : (tensor<4xf32>) -> tensor<4xi64>
  return
}

// -----
func.func @gqa_without_num_heads(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %pk: tensor<1x2x5x16xf32>, %l: tensor<1xi32>, %t: tensor<i32>) {
  // expected-error @+1 {{'onnx.ms.GroupQueryAttention' op requires attribute 'num_heads'}}
  %0 = onnx.ms.GroupQueryAttention %q, %k, %k, %pk, %pk, %l, %t {kv_num_heads = 2 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1xi32>, tensor<i32>) -> tensor<1x3x64xf32>
  return
}

// -----
func.func @gqa_without_kv_num_heads(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %pk: tensor<1x2x5x16xf32>, %l: tensor<1xi32>, %t: tensor<i32>) {
  // expected-error @+1 {{'onnx.ms.GroupQueryAttention' op requires attribute 'kv_num_heads'}}
  %0 = onnx.ms.GroupQueryAttention %q, %k, %k, %pk, %pk, %l, %t {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, tensor<1x2x5x16xf32>, tensor<1x2x5x16xf32>, tensor<1xi32>, tensor<i32>) -> tensor<1x3x64xf32>
  return
}

// -----
func.func @mha_without_num_heads(%q: tensor<1x3x64xf32>) {
  // expected-error @+1 {{'onnx.ms.MultiHeadAttention' op requires attribute 'num_heads'}}
  %0 = onnx.ms.MultiHeadAttention %q, %q, %q : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  return
}

// -----
func.func @initializer_unranked() {
  // expected-error @+1 {{'onnx.initializer' op result #0 must be ranked tensor of any type values, but got 'tensor<*xf32>'}}
  %0 = "onnx.initializer"() <{name = "w"}> : () -> tensor<*xf32>
  return
}

// -----
func.func @shape_expr_i32() {
  // expected-error @+1 {{'resa.shape_expr' op result must hold int64, got 'i32'}}
  %0 = resa.shape_expr ["batch"] : tensor<1xi32>
  return
}

// -----
func.func @shape_expr_length() {
  // expected-error @+1 {{'resa.shape_expr' op result must be tensor<2xi64>, got 'tensor<3xi64>'}}
  %0 = resa.shape_expr ["batch", "seq + 1"] : tensor<3xi64>
  return
}

// -----
func.func @shape_expr_rank() {
  // expected-error @+1 {{'resa.shape_expr' op result must be tensor<1xi64>, got 'tensor<1x1xi64>'}}
  %0 = resa.shape_expr ["batch"] : tensor<1x1xi64>
  return
}

// -----
func.func @shape_expr_scalar_rank() {
  // expected-error @+1 {{'resa.shape_expr' op a scalar shape_expr has one expression and a rank-0 result}}
  %0 = resa.shape_expr ["batch"] {scalar} : tensor<1xi64>
  return
}

// -----
func.func @shape_expr_scalar_two() {
  // expected-error @+1 {{'resa.shape_expr' op a scalar shape_expr has one expression and a rank-0 result}}
  %0 = resa.shape_expr ["batch", "seq"] {scalar} : tensor<i64>
  return
}

// -----
func.func @shape_expr_bad_text() {
  // expected-error @+1 {{'resa.shape_expr' op bad dimension expression 'batch +'}}
  %0 = resa.shape_expr ["batch +"] : tensor<1xi64>
  return
}
