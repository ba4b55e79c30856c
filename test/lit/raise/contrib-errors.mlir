// com.microsoft attention forms that cannot be raised are errors at the node: bidirectional MultiHeadAttention, GQA/MHA inputs not supported yet.
// RUN: resa-opt %s --split-input-file --resa-raise-attention -verify-diagnostics

func.func @mha_bidirectional(%q: tensor<1x3x64xf32>, %k: tensor<1x3x64xf32>, %v: tensor<1x3x64xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{attention cannot be raised: MultiHeadAttention is not unidirectional, so it is not causal}}
  %o = onnx.ms.MultiHeadAttention %q, %k, %v {num_heads = 4 : i64, unidirectional = 0 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  return %o : tensor<1x3x64xf32>
}

// -----

// unidirectional defaults to 0.
func.func @mha_default(%q: tensor<1x3x64xf32>, %k: tensor<1x3x64xf32>, %v: tensor<1x3x64xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{attention cannot be raised: MultiHeadAttention is not unidirectional, so it is not causal}}
  %o = onnx.ms.MultiHeadAttention %q, %k, %v {num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>) -> tensor<1x3x64xf32>
  return %o : tensor<1x3x64xf32>
}

// -----

func.func @mha_packed_kv(%q: tensor<1x3x64xf32>, %kv: tensor<1x3x4x2x16xf32>) -> tensor<1x3x64xf32> {
  %none = onnx.none
  // expected-error @+1 {{MultiHeadAttention needs separate 3-D query, key and value}}
  %o = onnx.ms.MultiHeadAttention %q, %kv, %none {num_heads = 4 : i64, unidirectional = 1 : i64} : (tensor<1x3x64xf32>, tensor<1x3x4x2x16xf32>, none) -> tensor<1x3x64xf32>
  return %o : tensor<1x3x64xf32>
}

// -----

func.func @mha_bias(%q: tensor<1x3x64xf32>, %k: tensor<1x3x64xf32>, %v: tensor<1x3x64xf32>, %b: tensor<192xf32>) -> tensor<1x3x64xf32> {
  // expected-error @+1 {{MultiHeadAttention with bias or attention_bias is not supported yet}}
  %o = onnx.ms.MultiHeadAttention %q, %k, %v, %b {num_heads = 4 : i64, unidirectional = 1 : i64} : (tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<1x3x64xf32>, tensor<192xf32>) -> tensor<1x3x64xf32>
  return %o : tensor<1x3x64xf32>
}

// -----

func.func @gqa_packed_qkv(%qkv: tensor<1x3x128xf32>, %lens: tensor<1xi32>, %tot: tensor<i32>) -> tensor<1x3x64xf32> {
  %none = onnx.none
  // expected-error @+1 {{GroupQueryAttention with packed QKV is not supported yet}}
  %o:3 = onnx.ms.GroupQueryAttention %qkv, %none, %none, %none, %none, %lens, %tot {kv_num_heads = 2 : i64, num_heads = 4 : i64} : (tensor<1x3x128xf32>, none, none, none, none, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x64xf32>, none, none)
  return %o#0 : tensor<1x3x64xf32>
}

// -----

func.func @gqa_position_ids(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>, %lens: tensor<1xi32>, %tot: tensor<i32>, %pos: tensor<1x3xi64>) -> tensor<1x3x64xf32> {
  %none = onnx.none
  // expected-error @+1 {{GroupQueryAttention with position_ids, attention_bias or head_sink inputs is not supported yet}}
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot, %none, %none, %pos {kv_num_heads = 2 : i64, num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, none, none, tensor<1xi32>, tensor<i32>, none, none, tensor<1x3xi64>) -> (tensor<1x3x64xf32>, none, none)
  return %o#0 : tensor<1x3x64xf32>
}

// -----

func.func @gqa_local_window(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>, %lens: tensor<1xi32>, %tot: tensor<i32>) -> tensor<1x3x64xf32> {
  %none = onnx.none
  // expected-error @+1 {{GroupQueryAttention with a local window is not supported yet}}
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot {kv_num_heads = 2 : i64, num_heads = 4 : i64, local_window_size = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, none, none, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x64xf32>, none, none)
  return %o#0 : tensor<1x3x64xf32>
}

// -----

func.func @gqa_softcap(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>, %lens: tensor<1xi32>, %tot: tensor<i32>) -> tensor<1x3x64xf32> {
  %none = onnx.none
  // expected-error @+1 {{GroupQueryAttention with softcap is not supported yet}}
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot {kv_num_heads = 2 : i64, num_heads = 4 : i64, softcap = 50.0 : f32} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, none, none, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x64xf32>, none, none)
  return %o#0 : tensor<1x3x64xf32>
}

// -----

// do_rotary without the cos/sin caches cannot be rotated (used to crash).
func.func @gqa_rotary_no_cache(%q: tensor<1x3x64xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>, %lens: tensor<1xi32>, %tot: tensor<i32>) -> tensor<1x3x64xf32> {
  %none = onnx.none
  // expected-error @+1 {{GroupQueryAttention with do_rotary needs cos_cache and sin_cache}}
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot {do_rotary = 1 : i64, kv_num_heads = 2 : i64, num_heads = 4 : i64} : (tensor<1x3x64xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, none, none, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x64xf32>, none, none)
  return %o#0 : tensor<1x3x64xf32>
}

// -----

func.func @gqa_dynamic_width(%q: tensor<1x3x?xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>, %lens: tensor<1xi32>, %tot: tensor<i32>) -> tensor<1x3x?xf32> {
  %none = onnx.none
  // expected-error @+1 {{attention: the query width is not static}}
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot {kv_num_heads = 2 : i64, num_heads = 4 : i64} : (tensor<1x3x?xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, none, none, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x?xf32>, none, none)
  return %o#0 : tensor<1x3x?xf32>
}
