// Opset-23 Attention raised to resa.attention: is_causal, a proven causal mask, 3-D inputs with q_num_heads/kv_num_heads.
// RUN: resa-opt %s --split-input-file --resa-raise-attention | FileCheck %s

// is_causal = 1 without a mask; the scale defaults to 1/sqrt(head size);
// repeat_kv in front of k and v is peeled (2 KV heads).
// CHECK-LABEL: func.func @is_causal(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[K:[a-z0-9]+]]: tensor<?x2x?x16xf32>, %[[V:[a-z0-9]+]]: tensor<?x2x?x16xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 2 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x4x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[A]]
func.func @is_causal(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                     %q: tensor<?x4x?x16xf32>, %k: tensor<?x2x?x16xf32>, %v: tensor<?x2x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %ax2 = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %rep5 = resa.shape_expr ["batch", "2", "2", "seq", "16"] : tensor<5xi64>
  %rep4 = resa.shape_expr ["batch", "4", "seq", "16"] : tensor<4xi64>
  %ku = onnx.Unsqueeze %k, %ax2 : (tensor<?x2x?x16xf32>, tensor<1xi64>) -> tensor<?x2x1x?x16xf32>
  %ke = onnx.Expand %ku, %rep5 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x2x?x16xf32>
  %kr = onnx.Reshape %ke, %rep4 : (tensor<?x2x2x?x16xf32>, tensor<4xi64>) -> tensor<?x4x?x16xf32>
  %vu = onnx.Unsqueeze %v, %ax2 : (tensor<?x2x?x16xf32>, tensor<1xi64>) -> tensor<?x2x1x?x16xf32>
  %ve = onnx.Expand %vu, %rep5 : (tensor<?x2x1x?x16xf32>, tensor<5xi64>) -> tensor<?x2x2x?x16xf32>
  %vr = onnx.Reshape %ve, %rep4 : (tensor<?x2x2x?x16xf32>, tensor<4xi64>) -> tensor<?x4x?x16xf32>
  %o = onnx.Attention %q, %kr, %vr {is_causal = 1 : i64} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// An explicit scale attribute wins over 1/sqrt(head size); Attention's
// native GQA (k and v with fewer heads) is kept as it is.
// CHECK-LABEL: func.func @explicit_scale(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x8x?x32xf32>, %[[K:[a-z0-9]+]]: tensor<1x2x?x32xf32>, %[[V:[a-z0-9]+]]: tensor<1x2x?x32xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 2 : i64, layout = "bhsd", num_heads = 8 : i64, scale = 1.000000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @explicit_scale(%q: tensor<1x8x?x32xf32>, %k: tensor<1x2x?x32xf32>, %v: tensor<1x2x?x32xf32>) -> tensor<1x8x?x32xf32> {
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64, scale = 0.1 : f32} : (tensor<1x8x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>) -> tensor<1x8x?x32xf32>
  return %o : tensor<1x8x?x32xf32>
}

// -----

// is_causal = 0 with a boolean mask that is proven causal (the torch SDPA
// export of opset 23); the mask subgraph is erased.
// CHECK-LABEL: func.func @bool_mask(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[K:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[V:[a-z0-9]+]]: tensor<?x4x?x16xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @bool_mask(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                     %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %bshape = resa.shape_expr ["batch", "1", "seq", "seq"] : tensor<4xi64>
  %mask = onnx.Expand %keep, %bshape : (tensor<?x?xi1>, tensor<4xi64>) -> tensor<?x1x?x?xi1>
  %o = onnx.Attention %q, %k, %v, %mask {is_causal = 0 : i64, scale = 0.25 : f32} : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x1x?x?xi1>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// A float mask is additive: 0 keeps a key, -inf drops it.
// CHECK-LABEL: func.func @float_mask(
// CHECK-NEXT: %[[A:.*]] = resa.attention %arg1, %arg2, %arg3 {kv_heads = 4 : i64, layout = "bhsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @float_mask(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                      %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax0 = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %ax1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %zero = onnx.Constant {value = dense<0.0> : tensor<f32>} : () -> tensor<f32>
  %ninf = onnx.Constant {value = dense<0xFF800000> : tensor<f32>} : () -> tensor<f32>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %row = onnx.Unsqueeze %r, %ax1 : (tensor<?xi64>, tensor<1xi64>) -> tensor<?x1xi64>
  %col = onnx.Unsqueeze %r, %ax0 : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
  %keep = onnx.LessOrEqual %col, %row : (tensor<1x?xi64>, tensor<?x1xi64>) -> tensor<?x?xi1>
  %mask = onnx.Where %keep, %zero, %ninf : (tensor<?x?xi1>, tensor<f32>, tensor<f32>) -> tensor<?x?xf32>
  %o = onnx.Attention %q, %k, %v, %mask : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x?xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// 3-D q, k, v ([B, S, heads * D]) with q_num_heads and kv_num_heads: layout
// "bsd", scale 1/sqrt(64 / 4).
// CHECK-LABEL: func.func @three_d(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[K:[a-z0-9]+]]: tensor<?x?x32xf32>, %[[V:[a-z0-9]+]]: tensor<?x?x32xf32>)
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[A]]
func.func @three_d(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>) -> tensor<?x?x64xf32> {
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64, q_num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
  return %o : tensor<?x?x64xf32>
}
