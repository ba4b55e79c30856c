// Eager and opset-18 SDPA attention (softmax(scale * q k^T + causal mask) v) raised to resa.attention.
// RUN: resa-opt %s --split-input-file --resa-raise-attention | FileCheck %s

// Llama eager: MatMul(q, Transpose(k, [0,1,3,2])) * 0.25 + additive causal
// mask built from Range/Unsqueeze/LessOrEqual/Where over the sequence length
// of input_ids; HF's repeat_kv (Unsqueeze [2] -> Expand -> Reshape) on k and
// v is peeled, so k and v keep their 2 KV heads. Mask and repeat_kv go.
// CHECK-LABEL: func.func @eager_additive(
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<?x?xi64> {{.*}}, %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[K:[a-z0-9]+]]: tensor<?x2x?x16xf32>, %[[V:[a-z0-9]+]]: tensor<?x2x?x16xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 2 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[A]] : tensor<?x4x?x16xf32>
func.func @eager_additive(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                          %q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %scale = onnx.Constant {value = dense<0.25> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %mask = onnx.Where %keep, %zero, %ninf : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %rep5 = resa.shape_expr ["batch", "2", "2", "seq", "16"] : tensor<5xi64>
  %rep4 = resa.shape_expr ["batch", "4", "seq", "16"] : tensor<4xi64>
  %ku = onnx.Unsqueeze %k, %ax2 : (tensor<?x2x?x16xf32>, tensor<1xi64>) -> tensor<?x2x1x?x16xf32>
  %ke = onnx.Expand %ku, %rep5 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x2x?x16xf32>
  %kr = onnx.Reshape %ke, %rep4 : (tensor<?x2x2x?x16xf32>, tensor<4xi64>) -> tensor<?x4x?x16xf32>
  %vu = onnx.Unsqueeze %v, %ax2 : (tensor<?x2x?x16xf32>, tensor<1xi64>) -> tensor<?x2x1x?x16xf32>
  %ve = onnx.Expand %vu, %rep5 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x2x?x16xf32>
  %vr = onnx.Reshape %ve, %rep4 : (tensor<?x2x2x?x16xf32>, tensor<4xi64>) -> tensor<?x4x?x16xf32>
  %kt = onnx.Transpose %kr {perm = array<i64: 0, 1, 3, 2>} : (tensor<?x4x?x16xf32>) -> tensor<?x4x16x?xf32>
  %s = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x4x16x?xf32>) -> tensor<?x4x?x?xf32>
  %ss = onnx.Mul %s, %scale : (tensor<?x4x?x?xf32>, tensor<f32>) -> tensor<?x4x?x?xf32>
  %sm = onnx.Add %ss, %mask : (tensor<?x4x?x?xf32>, tensor<?x?xf32>) -> tensor<?x4x?x?xf32>
  %p = onnx.Softmax %sm {axis = -1 : i64} : (tensor<?x4x?x?xf32>) -> tensor<?x4x?x?xf32>
  %o = onnx.MatMul %p, %vr : (tensor<?x4x?x?xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}
