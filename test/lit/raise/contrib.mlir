// com.microsoft GroupQueryAttention (do_rotary -> RotaryEmbedding at resa.positions) and MultiHeadAttention (unidirectional) raised to resa.attention.
// RUN: resa-opt %s --split-input-file --resa-raise-attention | FileCheck %s

// GroupQueryAttention is causal by definition: layout "bsd", 4 query heads
// over 2 KV heads, scale 1/sqrt(64 / 4). The past inputs, seqlens_k and
// total_sequence_length are dropped, so is the op once its present outputs
// have no users.
// CHECK-LABEL: func.func @gqa(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[K:[a-z0-9]+]]: tensor<?x?x32xf32>, %[[V:[a-z0-9]+]]: tensor<?x?x32xf32>
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[A]] : tensor<?x?x64xf32>
func.func @gqa(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>,
               %pk: tensor<?x2x?x16xf32>, %pv: tensor<?x2x?x16xf32>, %lens: tensor<?xi32>, %tot: tensor<i32>) -> tensor<?x?x64xf32> {
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %pk, %pv, %lens, %tot {kv_num_heads = 2 : i64, num_heads = 4 : i64, local_window_size = -1 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?xi32>, tensor<i32>) -> (tensor<?x?x64xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
  return %o#0 : tensor<?x?x64xf32>
}

// -----

// An explicit scale wins; the op stays while its present outputs are
// returned (resa-form-kv-program drops them), its attention output is the
// raised op.
// CHECK-LABEL: func.func @gqa_present_used(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<1x3x128xf32>, %[[K:[a-z0-9]+]]: tensor<1x3x32xf32>, %[[V:[a-z0-9]+]]: tensor<1x3x32xf32>
// CHECK: %[[G:.*]]:3 = onnx.ms.GroupQueryAttention
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 1 : i64, layout = "bsd", num_heads = 4 : i64, scale = 1.000000e-01 : f32}
// CHECK-NEXT: return %[[A]], %[[G]]#1, %[[G]]#2
func.func @gqa_present_used(%q: tensor<1x3x128xf32>, %k: tensor<1x3x32xf32>, %v: tensor<1x3x32xf32>,
                            %lens: tensor<1xi32>, %tot: tensor<i32>) -> (tensor<1x3x128xf32>, tensor<1x1x3x32xf32>, tensor<1x1x3x32xf32>) {
  %none = onnx.none
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot {kv_num_heads = 1 : i64, num_heads = 4 : i64, scale = 0.1 : f32} : (tensor<1x3x128xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>, none, none, tensor<1xi32>, tensor<i32>) -> (tensor<1x3x128xf32>, tensor<1x1x3x32xf32>, tensor<1x1x3x32xf32>)
  return %o#0, %o#1, %o#2 : tensor<1x3x128xf32>, tensor<1x1x3x32xf32>, tensor<1x1x3x32xf32>
}

// -----

// do_rotary = 1: the rotation GroupQueryAttention applies inside becomes
// com.microsoft RotaryEmbedding of q (4 heads) and k (2 heads) at the call's
// positions: resa.positions of q's sequence length, as [B, S].
// CHECK-LABEL: func.func @gqa_rotary(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[K:[a-z0-9]+]]: tensor<?x?x32xf32>, %[[V:[a-z0-9]+]]: tensor<?x?x32xf32>, %{{[a-z0-9]+}}: tensor<?xi32>, %{{[a-z0-9]+}}: tensor<i32>, %[[COS:[a-z0-9]+]]: tensor<128x8xf32>, %[[SIN:[a-z0-9]+]]: tensor<128x8xf32>)
// CHECK-NEXT: %[[S1:.*]] = onnx.Shape %[[Q]] {end = 2 : i64, start = 1 : i64} : (tensor<?x?x64xf32>) -> tensor<1xi64>
// CHECK-NEXT: %[[AX:.*]] = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK-NEXT: %[[SEQ:.*]] = onnx.Squeeze %[[S1]], %[[AX]] : (tensor<1xi64>, tensor<1xi64>) -> tensor<i64>
// CHECK-NEXT: %[[POS:.*]] = resa.positions %[[SEQ]] : (tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: %[[AX0:.*]] = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK-NEXT: %[[POS1:.*]] = onnx.Unsqueeze %[[POS]], %[[AX0]] : (tensor<?xi64>, tensor<1xi64>) -> tensor<1x?xi64>
// CHECK-NEXT: %[[BS:.*]] = onnx.Shape %[[Q]] {end = 2 : i64} : (tensor<?x?x64xf32>) -> tensor<2xi64>
// CHECK-NEXT: %[[POS2:.*]] = onnx.Expand %[[POS1]], %[[BS]] : (tensor<1x?xi64>, tensor<2xi64>) -> tensor<?x?xi64>
// CHECK-NEXT: %[[RQ:.*]] = onnx.ms.RotaryEmbedding %[[Q]], %[[POS2]], %[[COS]], %[[SIN]] {interleaved = 0 : i64, num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?xi64>, tensor<128x8xf32>, tensor<128x8xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: %[[RK:.*]] = onnx.ms.RotaryEmbedding %[[K]], %[[POS2]], %[[COS]], %[[SIN]] {interleaved = 0 : i64, num_heads = 2 : i64} : (tensor<?x?x32xf32>, tensor<?x?xi64>, tensor<128x8xf32>, tensor<128x8xf32>) -> tensor<?x?x32xf32>
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[RQ]], %[[RK]], %[[V]] {kv_heads = 2 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32}
// CHECK-NEXT: return %[[A]]
func.func @gqa_rotary(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %lens: tensor<?xi32>, %tot: tensor<i32>,
                      %cos: tensor<128x8xf32>, %sin: tensor<128x8xf32>) -> tensor<?x?x64xf32> {
  %none = onnx.none
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot, %cos, %sin {do_rotary = 1 : i64, kv_num_heads = 2 : i64, num_heads = 4 : i64, rotary_interleaved = 0 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, none, none, tensor<?xi32>, tensor<i32>, tensor<128x8xf32>, tensor<128x8xf32>) -> (tensor<?x?x64xf32>, none, none)
  return %o#0 : tensor<?x?x64xf32>
}

// -----

// rotary_interleaved is carried over to the RotaryEmbedding ops.
// CHECK-LABEL: func.func @gqa_rotary_interleaved(
// CHECK: onnx.ms.RotaryEmbedding {{.*}} {interleaved = 1 : i64, num_heads = 4 : i64}
// CHECK: onnx.ms.RotaryEmbedding {{.*}} {interleaved = 1 : i64, num_heads = 2 : i64}
// CHECK: resa.attention
func.func @gqa_rotary_interleaved(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %v: tensor<?x?x32xf32>, %lens: tensor<?xi32>, %tot: tensor<i32>,
                                  %cos: tensor<128x8xf32>, %sin: tensor<128x8xf32>) -> tensor<?x?x64xf32> {
  %none = onnx.none
  %o:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %none, %none, %lens, %tot, %cos, %sin {do_rotary = 1 : i64, kv_num_heads = 2 : i64, num_heads = 4 : i64, rotary_interleaved = 1 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, none, none, tensor<?xi32>, tensor<i32>, tensor<128x8xf32>, tensor<128x8xf32>) -> (tensor<?x?x64xf32>, none, none)
  return %o#0 : tensor<?x?x64xf32>
}

// -----

// MultiHeadAttention with unidirectional = 1 is causal: as many KV heads as
// query heads; the key padding mask and the past inputs are dropped.
// CHECK-LABEL: func.func @mha(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[K:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[V:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-NEXT: %[[A:.*]] = resa.attention %[[Q]], %[[K]], %[[V]] {kv_heads = 4 : i64, layout = "bsd", num_heads = 4 : i64, scale = 2.500000e-01 : f32} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[A]]
func.func @mha(%q: tensor<?x?x64xf32>, %k: tensor<?x?x64xf32>, %v: tensor<?x?x64xf32>, %kpm: tensor<?x?xi32>,
               %pk: tensor<?x4x?x16xf32>, %pv: tensor<?x4x?x16xf32>) -> tensor<?x?x64xf32> {
  %none = onnx.none
  %o:3 = onnx.ms.MultiHeadAttention %q, %k, %v, %none, %kpm, %none, %pk, %pv {num_heads = 4 : i64, unidirectional = 1 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, none, tensor<?x?xi32>, none, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
  return %o#0 : tensor<?x?x64xf32>
}

// -----

// MultiHeadAttention's scale attribute wins over 1/sqrt(head size).
// CHECK-LABEL: func.func @mha_scale(
// CHECK-NEXT: resa.attention %arg0, %arg1, %arg2 {kv_heads = 2 : i64, layout = "bsd", num_heads = 2 : i64, scale = 5.000000e-01 : f32} : (tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5x32xf32>) -> tensor<2x5x32xf32>
func.func @mha_scale(%q: tensor<2x5x32xf32>, %k: tensor<2x5x32xf32>, %v: tensor<2x5x32xf32>) -> tensor<2x5x32xf32> {
  %o = onnx.ms.MultiHeadAttention %q, %k, %v {num_heads = 2 : i64, scale = 0.5 : f32, unidirectional = 1 : i64} : (tensor<2x5x32xf32>, tensor<2x5x32xf32>, tensor<2x5x32xf32>) -> tensor<2x5x32xf32>
  return %o : tensor<2x5x32xf32>
}
