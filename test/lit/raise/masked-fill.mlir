// masked_fill masks, Where(drop, -inf, scores) with drop true for a key to hide: raised when drop is exactly the complement of causal (key after query), refused otherwise.
// RUN: resa-opt %s --split-input-file --resa-raise-attention -verify-diagnostics | FileCheck %s

// torch masked_fill(triu(ones, 1).bool(), -inf): drop key j when j > i. The
// mask, the Where and the Range go.
// CHECK-LABEL: func.func @drop_later(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[K:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[V:[a-z0-9]+]]: tensor<?x4x?x16xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[A]] : tensor<?x4x?x16xf32>
func.func @drop_later(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
    %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %fmin = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %drop = onnx.Greater %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %drop, %ninf, %ss : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// drop = Not(causal keep), filled with float32 min instead of -inf.
// CHECK-LABEL: func.func @drop_not_causal(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[K:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[V:[a-z0-9]+]]: tensor<?x4x?x16xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[A]] : tensor<?x4x?x16xf32>
func.func @drop_not_causal(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
    %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %fmin = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %drop = onnx.Not %keep : (tensor<?x?xi1>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %drop, %fmin, %ss : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// The causal keep mask used as a drop mask hides what it should keep: refused.
func.func @drop_causal(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
    %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %fmin = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %drop = onnx.LessOrEqual %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %drop, %ninf, %ss : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  // expected-error @+1 {{attention cannot be raised: its mask is not causal: at sequence length 1, query 0 does not see earlier key 0}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// Dropping the diagonal as well (j >= i) hides each query's own key: refused.
func.func @drop_diagonal(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
    %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %fmin = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %drop = onnx.GreaterOrEqual %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %drop, %ninf, %ss : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  // expected-error @+1 {{attention cannot be raised: its mask is not causal: at sequence length 1, query 0 does not see earlier key 0}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// Dropping earlier keys (j < i) is anti-causal: refused.
func.func @drop_earlier(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
    %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %fmin = onnx.Constant {value = dense<-3.40282347E+38> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %drop = onnx.Less %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %kt = onnx.Transpose %k {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Where %drop, %ninf, %ss : (tensor<?x?xi1>, tensor<f32>, tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  // expected-error @+1 {{attention cannot be raised: its mask is not causal: at sequence length 2, query 0 sees later key 1}}
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %v : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
