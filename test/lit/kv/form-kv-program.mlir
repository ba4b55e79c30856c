// resa-form-kv-program: @main becomes @prefill/@decode/@rectify over the managed KV cache (cache_attention per layer, resa.positions, past/present dropped).
// RUN: resa-opt %s --split-input-file --resa-form-kv-program | FileCheck %s

// A two-layer model with the exporters' extras: attention_mask, position_ids
// and past_key_values inputs, present outputs, a Range(0, seq).
// CHECK: module attributes {onnx.opset = 18 : i64, resa.kv_cache = {head_dim = 16 : i64, kv_heads = 2 : i64, layers = 2 : i64}}

// @main is kept as it was.
// CHECK-LABEL: func.func @main(
// CHECK-SAME: onnx.name = "past_key_values.0.value"
// CHECK-SAME: {onnx.name = "present.0.value"})
// CHECK-NOT: resa.cache_attention
// CHECK: onnx.Range
// CHECK: resa.attention
// CHECK: resa.attention
// CHECK: return

// @prefill takes the token ids only and returns the logits only.
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
// CHECK-NOT: onnx.Range
// CHECK-NOT: onnx.Concat
// CHECK-NOT: resa.attention
// position_ids: the call's positions as [1, S].
// CHECK: %[[SHAPE:.*]] = onnx.Shape %[[IDS]] {end = 2 : i64, start = 1 : i64} : (tensor<?x?xi64>) -> tensor<1xi64>
// CHECK: %[[LEN:.*]] = onnx.Squeeze %[[SHAPE]], %{{.*}} : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
// CHECK-NEXT: %[[POS:.*]] = resa.positions %[[LEN]] : (tensor<i64>) -> tensor<?xi64>
// CHECK: %[[POSIDS:.*]] = onnx.Unsqueeze %[[POS]], %{{.*}} : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
// CHECK: %[[SEQ:.*]] = resa.shape_expr ["seq"] {scalar} : tensor<i64>
// CHECK: onnx.Gather %{{.*}}, %[[POSIDS]] {axis = 0 : i64} : (tensor<128x64xf32>, tensor<1x?xi64>) -> tensor<?x?x64xf32>
// Range(0, seq) -> resa.positions.
// CHECK: %[[RANGE:.*]] = resa.positions %[[SEQ]] : (tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: onnx.Cast %[[RANGE]] {to = 1 : i64}
// CHECK: resa.cache_attention %{{.*}} {kv_heads = 2 : i64, layer = 0 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
// CHECK: %[[L1:.*]] = resa.cache_attention %{{.*}} {kv_heads = 2 : i64, layer = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: %[[LOGITS:.*]] = onnx.MatMul %[[L1]], %{{.*}} : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
// CHECK-NEXT: return %[[LOGITS]] : tensor<?x?x100xf32>

// @decode is the same program (the runtime calls it one token at a time).
// CHECK-LABEL: func.func @decode(
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
// CHECK-NOT: onnx.Range
// CHECK-NOT: resa.attention
// CHECK: resa.positions
// CHECK: resa.positions
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: resa.cache_attention {{.*}}layer = 1 : i64
// CHECK: return %{{.*}} : tensor<?x?x100xf32>

// @rectify has no results and keeps every layer's cache_attention (it only
// rewrites their KV); the logits projection is gone.
// CHECK-LABEL: func.func @rectify(
// CHECK-SAME: %{{[a-z0-9]+}}: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) {
// CHECK-NOT: lm_head
// CHECK: resa.cache_attention {{.*}}layer = 0 : i64
// CHECK: %[[R1:.*]] = resa.cache_attention {{.*}}layer = 1 : i64
// CHECK-NEXT: return{{$}}
// CHECK-NEXT: }
module attributes {onnx.opset = 18 : i64} {
func.func @main(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"},
                %mask: tensor<?x?xi64> {onnx.dim_params = ["batch", "total"], onnx.name = "attention_mask"},
                %pos: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "position_ids"},
                %pk: tensor<?x2x?x16xf32> {onnx.dim_params = ["batch", "", "past", ""], onnx.name = "past_key_values.0.key"},
                %pv: tensor<?x2x?x16xf32> {onnx.dim_params = ["batch", "", "past", ""], onnx.name = "past_key_values.0.value"})
    -> (tensor<?x?x100xf32> {onnx.name = "logits"}, tensor<?x2x?x16xf32> {onnx.name = "present.0.key"}, tensor<?x2x?x16xf32> {onnx.name = "present.0.value"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %pe = onnx.initializer "pos_embed" : tensor<128x64xf32>
  %wq = onnx.initializer "wq" : tensor<64x64xf32>
  %wk = onnx.initializer "wk" : tensor<64x32xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %ax02 = onnx.Constant {value = dense<[0, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %seq = resa.shape_expr ["seq"] {scalar} : tensor<i64>
  %x = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %p = onnx.Gather %pe, %pos {axis = 0 : i64} : (tensor<128x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %h0 = onnx.Add %x, %p : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rf = onnx.Cast %r {to = 1 : i64} : (tensor<?xi64>) -> tensor<?xf32>
  %ru = onnx.Unsqueeze %rf, %ax02 : (tensor<?xf32>, tensor<2xi64>) -> tensor<1x?x1xf32>
  %h = onnx.Add %h0, %ru : (tensor<?x?x64xf32>, tensor<1x?x1xf32>) -> tensor<?x?x64xf32>
  %q0 = onnx.MatMul %h, %wq : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %k0 = onnx.MatMul %h, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %a0 = resa.attention %q0, %k0, %k0 {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
  %h1 = onnx.Add %h, %a0 : (tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
  %q1 = onnx.MatMul %h1, %wq : (tensor<?x?x64xf32>, tensor<64x64xf32>) -> tensor<?x?x64xf32>
  %k1 = onnx.MatMul %h1, %wk : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %a1 = resa.attention %q1, %k1, %k1 {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 0.25 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
  %logits = onnx.MatMul %a1, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
  %k4s = resa.shape_expr ["batch", "seq", "2", "16"] : tensor<4xi64>
  %k4 = onnx.Reshape %k0, %k4s : (tensor<?x?x32xf32>, tensor<4xi64>) -> tensor<?x?x2x16xf32>
  %k4t = onnx.Transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x2x16xf32>) -> tensor<?x2x?x16xf32>
  %presk = onnx.Concat %pk, %k4t {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  %presv = onnx.Concat %pv, %k4t {axis = 2 : i64} : (tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>) -> tensor<?x2x?x16xf32>
  return %logits, %presk, %presv : tensor<?x?x100xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>
}
}

// -----

// Opset-23 style bhsd attention, no position_ids: the head size is dim 3 of
// k; the positions for position_ids are not materialized; the sequence
// symbol of a dim_param that is not an identifier ("seq.len" -> seq_len)
// still identifies Range(0, seq).
// CHECK: module attributes {resa.kv_cache = {head_dim = 32 : i64, kv_heads = 1 : i64, layers = 1 : i64}}
// CHECK-LABEL: func.func @prefill(
// CHECK-NOT: onnx.Range
// CHECK: %[[SEQ:.*]] = resa.shape_expr ["seq_len"] {scalar} : tensor<i64>
// CHECK-NOT: onnx.Range
// CHECK: resa.cache_attention {{.*}} {kv_heads = 1 : i64, layer = 0 : i64, layout = "bhsd", num_heads = 2 : i64, scale = 1.250000e-01 : f32} : (tensor<1x2x?x32xf32>, tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32>) -> tensor<1x2x?x32xf32>
// CHECK-NEXT: %[[POS:.*]] = resa.positions %[[SEQ]] : (tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: %[[F:.*]] = onnx.Cast %[[POS]]
// CHECK-LABEL: func.func @decode(
func.func @main(%ids: tensor<1x?xi64> {onnx.dim_params = ["", "seq.len"], onnx.name = "input_ids"}) -> (tensor<1x2x?x32xf32> {onnx.name = "out"}) {
  %eq = onnx.initializer "wq" : tensor<100x64xf32>
  %ek = onnx.initializer "wk" : tensor<100x32xf32>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %seq = resa.shape_expr ["seq_len"] {scalar} : tensor<i64>
  %qs = resa.shape_expr ["1", "seq_len", "2", "32"] : tensor<4xi64>
  %ks = resa.shape_expr ["1", "seq_len", "1", "32"] : tensor<4xi64>
  %xq = onnx.Gather %eq, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<1x?xi64>) -> tensor<1x?x64xf32>
  %xk = onnx.Gather %ek, %ids {axis = 0 : i64} : (tensor<100x32xf32>, tensor<1x?xi64>) -> tensor<1x?x32xf32>
  %q4 = onnx.Reshape %xq, %qs : (tensor<1x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
  %k4 = onnx.Reshape %xk, %ks : (tensor<1x?x32xf32>, tensor<4xi64>) -> tensor<1x?x1x32xf32>
  %q = onnx.Transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
  %k = onnx.Transpose %k4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x1x32xf32>) -> tensor<1x1x?x32xf32>
  %a = resa.attention %q, %k, %k {kv_heads = 1 : i64, layout = "bhsd", num_heads = 2 : i64, scale = 0.125 : f32} : (tensor<1x2x?x32xf32>, tensor<1x1x?x32xf32>, tensor<1x1x?x32xf32>) -> tensor<1x2x?x32xf32>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %rf = onnx.Cast %r {to = 1 : i64} : (tensor<?xi64>) -> tensor<?xf32>
  %o = onnx.Add %a, %rf : (tensor<1x2x?x32xf32>, tensor<?xf32>) -> tensor<1x2x?x32xf32>
  return %o : tensor<1x2x?x32xf32>
}

// -----

// Without dim_params the sequence dim of input_ids is the symbol arg0_dim1.
// A Range with another step is not the call's positions and stays.
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<1x2x?x32xf32> {onnx.name = "out"}, tensor<?xi64>, tensor<?xi64>)
// CHECK: %[[SEQ:.*]] = resa.shape_expr ["arg0_dim1"] {scalar} : tensor<i64>
// CHECK: resa.cache_attention
// CHECK-NEXT: %[[STEP2:.*]] = onnx.Range %{{.*}}, %[[SEQ]], %{{.*}} : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: %[[POS:.*]] = resa.positions %[[SEQ]] : (tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: return %{{.*}}, %[[STEP2]], %[[POS]]
func.func @main(%ids: tensor<?x?xi64> {onnx.name = "input_ids"}) -> (tensor<1x2x?x32xf32> {onnx.name = "out"}, tensor<?xi64>, tensor<?xi64>) {
  %eq = onnx.initializer "wq" : tensor<100x64xf32>
  %c0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %c1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %c2 = onnx.Constant {value = dense<2> : tensor<i64>} : () -> tensor<i64>
  %seq = resa.shape_expr ["arg0_dim1"] {scalar} : tensor<i64>
  %qs = resa.shape_expr ["1", "arg0_dim1", "2", "32"] : tensor<4xi64>
  %xq = onnx.Gather %eq, %ids {axis = 0 : i64} : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %q4 = onnx.Reshape %xq, %qs : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<1x?x2x32xf32>
  %q = onnx.Transpose %q4 {perm = array<i64: 0, 2, 1, 3>} : (tensor<1x?x2x32xf32>) -> tensor<1x2x?x32xf32>
  %a = resa.attention %q, %q, %q {kv_heads = 2 : i64, layout = "bhsd", num_heads = 2 : i64, scale = 0.125 : f32} : (tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>, tensor<1x2x?x32xf32>) -> tensor<1x2x?x32xf32>
  %step2 = onnx.Range %c0, %seq, %c2 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  %r = onnx.Range %c0, %seq, %c1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
  return %a, %step2, %r : tensor<1x2x?x32xf32>, tensor<?xi64>, tensor<?xi64>
}
