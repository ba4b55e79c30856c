// Verifiers of the layer ops: ranks, static dims that must agree, attributes.
// RUN: resa-opt %s --split-input-file -verify-diagnostics

func.func @embedding_float_ids(%t: tensor<10x4xf32>, %ids: tensor<3xf32>) {
  // expected-error @+1 {{ids must hold int64 or int32}}
  %0 = resa.embedding %t, %ids : (tensor<10x4xf32>, tensor<3xf32>) -> tensor<3x4xf32>
  return
}

// -----
func.func @rms_norm_weight(%x: tensor<?x8xf32>, %w: tensor<7xf32>) {
  // expected-error @+1 {{weight has 7 elements, x has width 8}}
  %0 = resa.rms_norm %x, %w {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<7xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @layer_norm_eps(%x: tensor<?x8xf32>, %w: tensor<8xf32>) {
  // expected-error @+1 {{epsilon must be finite and >= 0}}
  %0 = resa.layer_norm %x, %w {epsilon = -1.0 : f32} : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
  return
}

// -----
func.func @linear_width(%x: tensor<?x?x64xf32>, %w: tensor<32x16xf32>) {
  // expected-error @+1 {{weight has 32 input rows, x has width 64}}
  %0 = resa.linear %x, %w : (tensor<?x?x64xf32>, tensor<32x16xf32>) -> tensor<?x?x16xf32>
  return
}

// -----
func.func @linear_bias(%x: tensor<?x64xf32>, %w: tensor<64x16xf32>, %b: tensor<8xf32>) {
  // expected-error @+1 {{bias has 8 elements, the weight 16 columns}}
  %0 = resa.linear %x, %w, %b : (tensor<?x64xf32>, tensor<64x16xf32>, tensor<8xf32>) -> tensor<?x16xf32>
  return
}

// -----
func.func @logits_result(%x: tensor<?x64xf32>, %w: tensor<64x300xf32>) {
  // expected-error @+1 {{result's last dim must be 300}}
  %0 = resa.logits %x, %w : (tensor<?x64xf32>, tensor<64x300xf32>) -> tensor<?x301xf32>
  return
}

// -----
func.func @rotary_heads(%x: tensor<?x4x?x16xf32>, %c: tensor<1x?x16xf32>) {
  // expected-error @+1 {{x has 4 heads, num_heads is 2}}
  %0 = resa.rotary %x, %c, %c {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64} : (tensor<?x4x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<?x4x?x16xf32>
  return
}

// -----
func.func @rotary_cos_width(%x: tensor<?x?x64xf32>, %c: tensor<?x?x6xf32>) {
  // expected-error @+1 {{cos width 6 must be rotary_dim (16) or rotary_dim / 2}}
  %0 = resa.rotary %x, %c, %c {interleaved = 0 : i64, num_heads = 4 : i64, rotary_dim = 16 : i64} : (tensor<?x?x64xf32>, tensor<?x?x6xf32>, tensor<?x?x6xf32>) -> tensor<?x?x64xf32>
  return
}

// -----
func.func @rotary_dim(%x: tensor<?x?x64xf32>, %c: tensor<?x?x16xf32>) {
  // expected-error @+1 {{rotary_dim 32 exceeds the head size 16}}
  %0 = resa.rotary %x, %c, %c {interleaved = 0 : i64, num_heads = 4 : i64, rotary_dim = 32 : i64} : (tensor<?x?x64xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>) -> tensor<?x?x64xf32>
  return
}

// -----
func.func @mlp_activation(%x: tensor<?x64xf32>, %g: tensor<64x160xf32>, %d: tensor<160x64xf32>) {
  // expected-error @+1 {{activation must be "silu", "gelu_tanh" or "gelu", got "relu"}}
  %0 = resa.gated_mlp %x, %g, %g, %d {activation = "relu"} : (tensor<?x64xf32>, tensor<64x160xf32>, tensor<64x160xf32>, tensor<160x64xf32>) -> tensor<?x64xf32>
  return
}

// -----
func.func @mlp_fused_down(%x: tensor<?x64xf32>, %gu: tensor<64x320xf32>, %d: tensor<320x64xf32>) {
  // expected-error @+1 {{down weight has 320 input rows, the intermediate width is 160}}
  %0 = resa.gated_mlp %x, %gu, %d {activation = "silu"} : (tensor<?x64xf32>, tensor<64x320xf32>, tensor<320x64xf32>) -> tensor<?x64xf32>
  return
}

// -----
func.func @mlp_weights(%x: tensor<?x64xf32>, %d: tensor<160x64xf32>) {
  // expected-error @+1 {{takes (gate, up, down) or (gate_up, down) weights, got 1}}
  %0 = resa.gated_mlp %x, %d {activation = "silu"} : (tensor<?x64xf32>, tensor<160x64xf32>) -> tensor<?x64xf32>
  return
}

// -----

// resa.multi_linear: a weight and a bias (or none) per result.
func.func @bad_params(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  // expected-error @below {{takes a weight and a bias (or none) per result}}
  %m:2 = resa.multi_linear %x, %w, %w : (tensor<2x8xf32>, tensor<8x8xf32>, tensor<8x8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>)
  return %m#0, %m#1 : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// resa.multi_linear with widths: they split the one weight's columns.
func.func @bad_widths(%x: tensor<2x8xf32>, %w: tensor<8x12xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  %n = resa.none
  // expected-error @below {{widths add up to 16, the weight has 12 columns}}
  %m:2 = resa.multi_linear %x, %w, %n, %n {widths = array<i64: 8, 8>} : (tensor<2x8xf32>, tensor<8x12xf32>, none, none) -> (tensor<2x8xf32>, tensor<2x8xf32>)
  return %m#0, %m#1 : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// resa.multi_linear with widths: one weight and a bias (or none) per width.
func.func @widths_params(%x: tensor<2x8xf32>, %w: tensor<8x8xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>) {
  %n = resa.none
  // expected-error @below {{with widths takes one weight and a bias (or none) per width}}
  %m:2 = resa.multi_linear %x, %w, %n, %w, %n {widths = array<i64: 4, 4>} : (tensor<2x8xf32>, tensor<8x8xf32>, none, tensor<8x8xf32>, none) -> (tensor<2x4xf32>, tensor<2x4xf32>)
  return %m#0, %m#1 : tensor<2x4xf32>, tensor<2x4xf32>
}

// -----

// resa.multi_rotary: a num_heads per tensor.
func.func @multi_rotary_heads(%q: tensor<1x3x32xf32>, %c: tensor<1x3x8xf32>, %s: tensor<1x3x8xf32>) -> (tensor<1x3x32xf32>, tensor<1x3x32xf32>) {
  // expected-error @below {{takes >= 2 tensors with a num_heads and a result each}}
  %m:2 = resa.multi_rotary %c, %s, %q, %q {interleaved = 0 : i64, num_heads = array<i64: 2>, rotary_dim = 16 : i64} : (tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>) -> (tensor<1x3x32xf32>, tensor<1x3x32xf32>)
  return %m#0, %m#1 : tensor<1x3x32xf32>, tensor<1x3x32xf32>
}

// -----

// resa.multi_rotary: each tensor obeys resa.rotary's rules (here its heads).
func.func @multi_rotary_width(%q: tensor<1x3x32xf32>, %c: tensor<1x3x8xf32>, %s: tensor<1x3x8xf32>) -> (tensor<1x3x32xf32>, tensor<1x3x32xf32>) {
  // expected-error @below {{width 32 is not a multiple of num_heads 3}}
  %m:2 = resa.multi_rotary %c, %s, %q, %q {interleaved = 0 : i64, num_heads = array<i64: 2, 3>, rotary_dim = 16 : i64} : (tensor<1x3x8xf32>, tensor<1x3x8xf32>, tensor<1x3x32xf32>, tensor<1x3x32xf32>) -> (tensor<1x3x32xf32>, tensor<1x3x32xf32>)
  return %m#0, %m#1 : tensor<1x3x32xf32>, tensor<1x3x32xf32>
}

// -----

// resa.add_rms_norm: its addends have one type (no broadcasting).
func.func @add_norm_broadcast(%a: tensor<2x8xf32>, %b: tensor<1x8xf32>, %w: tensor<8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>) {
  // expected-error @below {{a and b must have one type (no broadcasting)}}
  %f:2 = resa.add_rms_norm %a, %b, %w {epsilon = 1.0e-5 : f32} : (tensor<2x8xf32>, tensor<1x8xf32>, tensor<8xf32>) -> (tensor<2x8xf32>, tensor<2x8xf32>)
  return %f#0, %f#1 : tensor<2x8xf32>, tensor<2x8xf32>
}

// -----

// resa.concat_columns: parts of the result's K, columns adding up.
func.func @concat_columns_width(%a: tensor<8x6xf32>, %b: tensor<8x6xf32>) -> tensor<8x11xf32> {
  // expected-error @below {{result must have 12 columns}}
  %c = resa.concat_columns %a, %b : (tensor<8x6xf32>, tensor<8x6xf32>) -> tensor<8x11xf32>
  return %c : tensor<8x11xf32>
}

// -----
func.func @projection_norm_activation(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %r: tensor<?x4xf32>, %nw: tensor<4xf32>) {
  // expected-error @+1 {{a single weight is a linear projection: no activation}}
  %s, %n = resa.projection_add_rms_norm %x, [%w], %r, %nw {activation = "silu", epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8x4xf32>, tensor<?x4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  return
}

// -----
func.func @projection_norm_no_activation(%x: tensor<?x8xf32>, %gu: tensor<8x32xf32>, %d: tensor<16x4xf32>, %r: tensor<?x4xf32>, %nw: tensor<4xf32>) {
  // expected-error @+1 {{a gated MLP's weights need an activation}}
  %s, %n = resa.projection_add_rms_norm %x, [%gu, %d], %r, %nw {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<16x4xf32>, tensor<?x4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  return
}

// -----
func.func @projection_norm_down_rows(%x: tensor<?x8xf32>, %gu: tensor<8x32xf32>, %d: tensor<15x4xf32>, %r: tensor<?x4xf32>, %nw: tensor<4xf32>) {
  // expected-error @+1 {{down weight has 15 input rows, the intermediate width is 16}}
  %s, %n = resa.projection_add_rms_norm %x, [%gu, %d], %r, %nw {activation = "silu", epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8x32xf32>, tensor<15x4xf32>, tensor<?x4xf32>, tensor<4xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  return
}

// -----
func.func @projection_norm_residual(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %r: tensor<?x4xf16>, %nw: tensor<4xf32>) {
  // expected-error @+1 {{residual 'tensor<?x4xf16>' must be the projection's type}}
  %s, %n = resa.projection_add_rms_norm %x, [%w], %r, %nw {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8x4xf32>, tensor<?x4xf16>, tensor<4xf32>) -> (tensor<?x4xf16>, tensor<?x4xf16>)
  return
}

// -----
func.func @projection_norm_width(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %r: tensor<?x5xf32>, %nw: tensor<5xf32>) {
  // expected-error @+1 {{result's last dim must be 4}}
  %s, %n = resa.projection_add_rms_norm %x, [%w], %r, %nw {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8x4xf32>, tensor<?x5xf32>, tensor<5xf32>) -> (tensor<?x5xf32>, tensor<?x5xf32>)
  return
}

// -----
func.func @projection_norm_weight(%x: tensor<?x8xf32>, %w: tensor<8x4xf32>, %r: tensor<?x4xf32>, %nw: tensor<3xf32>) {
  // expected-error @+1 {{norm weight has 3 elements, the residual has width 4}}
  %s, %n = resa.projection_add_rms_norm %x, [%w], %r, %nw {epsilon = 1.0e-6 : f32} : (tensor<?x8xf32>, tensor<8x4xf32>, tensor<?x4xf32>, tensor<3xf32>) -> (tensor<?x4xf32>, tensor<?x4xf32>)
  return
}
