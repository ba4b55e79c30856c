// Opset-23 Attention that cannot be raised is an error at the node: not causal, non-causal mask, forms not supported yet.
// RUN: resa-opt %s --split-input-file --resa-raise-attention -verify-diagnostics

func.func @not_causal(%q: tensor<1x4x?x16xf32>, %k: tensor<1x4x?x16xf32>, %v: tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32> {
  // expected-error @+1 {{attention cannot be raised: is_causal is 0 and there is no mask}}
  %o = onnx.Attention %q, %k, %v {is_causal = 0 : i64} : (tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32>
  return %o : tensor<1x4x?x16xf32>
}

// -----

// The default is_causal is 0.
func.func @default_not_causal(%q: tensor<1x4x?x16xf32>, %k: tensor<1x4x?x16xf32>, %v: tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32> {
  // expected-error @+1 {{attention cannot be raised: is_causal is 0 and there is no mask}}
  %o = onnx.Attention %q, %k, %v : (tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>, tensor<1x4x?x16xf32>) -> tensor<1x4x?x16xf32>
  return %o : tensor<1x4x?x16xf32>
}

// -----

// A boolean mask that keeps every key (bidirectional) is refused.
func.func @bidirectional_mask(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                              %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %t = onnx.Constant {value = dense<true> : tensor<i1>} : () -> tensor<i1>
  %shape = resa.shape_expr ["batch", "1", "seq", "seq"] : tensor<4xi64>
  %mask = onnx.Expand %t, %shape : (tensor<i1>, tensor<4xi64>) -> tensor<?x1x?x?xi1>
  // expected-error @+1 {{attention cannot be raised: its mask is not causal: at sequence length 2, query 0 sees later key 1}}
  %o = onnx.Attention %q, %k, %v, %mask : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x1x?x?xi1>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

// A mask computed from a graph input that is not bound to a known value
// (a float input) is not causal as far as the compiler can prove.
func.func @input_mask(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                      %bias: tensor<?x1x?x?xf32> {onnx.dim_params = ["batch", "", "seq", "seq"], onnx.name = "attention_bias"},
                      %q: tensor<?x4x?x16xf32>, %k: tensor<?x4x?x16xf32>, %v: tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32> {
  // expected-error @+1 {{attention cannot be raised: its mask is not causal: at sequence length 2, query 0 sees later key 1}}
  %o = onnx.Attention %q, %k, %v, %bias : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<?x1x?x?xf32>) -> tensor<?x4x?x16xf32>
  return %o : tensor<?x4x?x16xf32>
}

// -----

func.func @causal_and_mask(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>, %m: tensor<3x3xi1>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{Attention with both is_causal and a mask is not supported yet}}
  %o = onnx.Attention %q, %k, %v, %m {is_causal = 1 : i64} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<3x3xi1>) -> tensor<1x4x3x16xf32>
  return %o : tensor<1x4x3x16xf32>
}

// -----

func.func @past_key(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>, %pk: tensor<1x4x5x16xf32>, %pv: tensor<1x4x5x16xf32>) -> tensor<1x4x3x16xf32> {
  %none = onnx.none
  // expected-error @+1 {{Attention with past_key/past_value inputs is not supported yet}}
  %o:3 = onnx.Attention %q, %k, %v, %none, %pk, %pv {is_causal = 1 : i64} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, none, tensor<1x4x5x16xf32>, tensor<1x4x5x16xf32>) -> (tensor<1x4x3x16xf32>, tensor<1x4x8x16xf32>, tensor<1x4x8x16xf32>)
  return %o#0 : tensor<1x4x3x16xf32>
}

// -----

func.func @softcap(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32> {
  // expected-error @+1 {{Attention with softcap is not supported yet}}
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64, softcap = 30.0 : f32} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x4x3x16xf32>
  return %o : tensor<1x4x3x16xf32>
}

// -----

func.func @qk_output_used(%q: tensor<1x4x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> (tensor<1x4x3x16xf32>, tensor<1x4x3x3xf32>) {
  %none = onnx.none
  // expected-error @+1 {{Attention's present/qk outputs are used; cannot raise it}}
  %o:4 = onnx.Attention %q, %k, %v {is_causal = 1 : i64} : (tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> (tensor<1x4x3x16xf32>, none, none, tensor<1x4x3x3xf32>)
  return %o#0, %o#3 : tensor<1x4x3x16xf32>, tensor<1x4x3x3xf32>
}

// -----

func.func @three_d_no_heads(%q: tensor<1x3x64xf32>, %k: tensor<1x3x64xf32>, %v: tensor<1x3x64xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{3-D Attention needs q_num_heads and kv_num_heads}}
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  return %o : tensor<1x3x64xf32>
}

// -----

// Without kv_num_heads the raised op would have no KV head count.
func.func @three_d_no_kv_heads(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{3-D Attention needs q_num_heads and kv_num_heads}}
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64, q_num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>) -> tensor<1x3x64xf32>
  return %o : tensor<1x3x64xf32>
}

// -----

func.func @three_d_dynamic_width(%q: tensor<1x3x?xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>) -> tensor<1x3x?xf32> {
  // expected-error @+1 {{attention: the query width is not static}}
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64, q_num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<1x3x?xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>) -> tensor<1x3x?xf32>
  return %o : tensor<1x3x?xf32>
}

// -----

func.func @dynamic_heads(%q: tensor<1x?x3x16xf32>, %k: tensor<1x4x3x16xf32>, %v: tensor<1x4x3x16xf32>) -> tensor<1x?x3x16xf32> {
  // expected-error @+1 {{attention: the number of query heads is not static}}
  %o = onnx.Attention %q, %k, %v {is_causal = 1 : i64} : (tensor<1x?x3x16xf32>, tensor<1x4x3x16xf32>, tensor<1x4x3x16xf32>) -> tensor<1x?x3x16xf32>
  return %o : tensor<1x?x3x16xf32>
}
