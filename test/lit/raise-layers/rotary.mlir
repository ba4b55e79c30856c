// resa-raise-rotary: HF's rotate-half decomposition, opset-23 RotaryEmbedding and
// com.microsoft RotaryEmbedding become resa.rotary with cos/sin as computed.
// RUN: resa-opt %s --split-input-file --resa-raise-rotary | FileCheck %s

// x * cos + Concat(-x[..., 8:], x[..., :8]) * sin, cos/sin Unsqueeze(c, [1]).
// CHECK-LABEL: func.func @rotate_half(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[C:[a-z0-9]+]]: tensor<1x?x16xf32>, %[[S:[a-z0-9]+]]: tensor<1x?x16xf32>
// CHECK: %[[Y:.*]] = resa.rotary %[[X]], %[[C]], %[[S]] {interleaved = 0 : i64, num_heads = 4 : i64, rotary_dim = 16 : i64} : (tensor<?x4x?x16xf32>, tensor<1x?x16xf32>, tensor<1x?x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK-NEXT: return %[[Y]]
// CHECK-NOT: onnx.Neg
func.func @rotate_half(%x: tensor<?x4x?x16xf32>, %c: tensor<1x?x16xf32>, %s: tensor<1x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %half = onnx.Constant {value = dense<8> : tensor<1xi64>} : () -> tensor<1xi64>
  %axis = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %c4 = onnx.Unsqueeze %c, %one : (tensor<1x?x16xf32>, tensor<1xi64>) -> tensor<1x1x?x16xf32>
  %s4 = onnx.Unsqueeze %s, %one : (tensor<1x?x16xf32>, tensor<1xi64>) -> tensor<1x1x?x16xf32>
  %0 = onnx.Mul %x, %c4 : (tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  %1 = onnx.Slice %x, %zero, %half, %axis, %one : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %2 = onnx.Slice %x, %half, %big, %axis, %one : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %3 = onnx.Neg %2 : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %4 = onnx.Concat %3, %1 {axis = -1 : i64} : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x16xf32>
  %5 = onnx.Mul %4, %s4 : (tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  %6 = onnx.Add %0, %5 : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %6 : tensor<?x4x?x16xf32>
}

// -----

// Not rotate-half: the halves are concatenated the wrong way round (x[..., :8] negated).
// CHECK-LABEL: func.func @rotate_half_wrong_halves(
// CHECK-NOT: resa.rotary
// CHECK: onnx.Neg
func.func @rotate_half_wrong_halves(%x: tensor<?x4x?x16xf32>, %c: tensor<1x?x16xf32>, %s: tensor<1x?x16xf32>) -> tensor<?x4x?x16xf32> {
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %half = onnx.Constant {value = dense<8> : tensor<1xi64>} : () -> tensor<1xi64>
  %axis = onnx.Constant {value = dense<3> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %c4 = onnx.Unsqueeze %c, %one : (tensor<1x?x16xf32>, tensor<1xi64>) -> tensor<1x1x?x16xf32>
  %s4 = onnx.Unsqueeze %s, %one : (tensor<1x?x16xf32>, tensor<1xi64>) -> tensor<1x1x?x16xf32>
  %0 = onnx.Mul %x, %c4 : (tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  %1 = onnx.Slice %x, %zero, %half, %axis, %one : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %2 = onnx.Slice %x, %half, %big, %axis, %one : (tensor<?x4x?x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x?x8xf32>
  %3 = onnx.Neg %1 : (tensor<?x4x?x8xf32>) -> tensor<?x4x?x8xf32>
  %4 = onnx.Concat %3, %2 {axis = -1 : i64} : (tensor<?x4x?x8xf32>, tensor<?x4x?x8xf32>) -> tensor<?x4x?x16xf32>
  %5 = onnx.Mul %4, %s4 : (tensor<?x4x?x16xf32>, tensor<1x1x?x16xf32>) -> tensor<?x4x?x16xf32>
  %6 = onnx.Add %0, %5 : (tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> tensor<?x4x?x16xf32>
  return %6 : tensor<?x4x?x16xf32>
}

// -----

// Not rotate-half: the slices are taken along the sequence axis.
// CHECK-LABEL: func.func @rotate_half_wrong_axis(
// CHECK-NOT: resa.rotary
func.func @rotate_half_wrong_axis(%x: tensor<2x4x16x16xf32>, %c: tensor<1x16x16xf32>, %s: tensor<1x16x16xf32>) -> tensor<2x4x16x16xf32> {
  %zero = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %half = onnx.Constant {value = dense<8> : tensor<1xi64>} : () -> tensor<1xi64>
  %axis = onnx.Constant {value = dense<2> : tensor<1xi64>} : () -> tensor<1xi64>
  %big = onnx.Constant {value = dense<16> : tensor<1xi64>} : () -> tensor<1xi64>
  %c4 = onnx.Unsqueeze %c, %one : (tensor<1x16x16xf32>, tensor<1xi64>) -> tensor<1x1x16x16xf32>
  %s4 = onnx.Unsqueeze %s, %one : (tensor<1x16x16xf32>, tensor<1xi64>) -> tensor<1x1x16x16xf32>
  %0 = onnx.Mul %x, %c4 : (tensor<2x4x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<2x4x16x16xf32>
  %1 = onnx.Slice %x, %zero, %half, %axis, %one : (tensor<2x4x16x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4x8x16xf32>
  %2 = onnx.Slice %x, %half, %big, %axis, %one : (tensor<2x4x16x16xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x4x8x16xf32>
  %3 = onnx.Neg %2 : (tensor<2x4x8x16xf32>) -> tensor<2x4x8x16xf32>
  %4 = onnx.Concat %3, %1 {axis = 2 : i64} : (tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>) -> tensor<2x4x16x16xf32>
  %5 = onnx.Mul %4, %s4 : (tensor<2x4x16x16xf32>, tensor<1x1x16x16xf32>) -> tensor<2x4x16x16xf32>
  %6 = onnx.Add %0, %5 : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
  return %6 : tensor<2x4x16x16xf32>
}

// -----

// Opset-23 RotaryEmbedding: cos/sin [B, S, D/2] kept; caches with position_ids gathered.
// CHECK-LABEL: func.func @onnx_rotary(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x4x?x16xf32>, %[[C:[a-z0-9]+]]: tensor<?x?x8xf32>, %[[S:[a-z0-9]+]]: tensor<?x?x8xf32>, %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[CC:[a-z0-9]+]]: tensor<128x4xf32>, %[[SC:[a-z0-9]+]]: tensor<128x4xf32>, %[[P:[a-z0-9]+]]: tensor<?x?xi64>
// CHECK: %[[A:.*]] = resa.rotary %[[X]], %[[C]], %[[S]] {interleaved = 0 : i64, num_heads = 4 : i64, rotary_dim = 16 : i64}
// CHECK: %[[GC:.*]] = onnx.Gather %[[CC]], %[[P]] {axis = 0 : i64} : (tensor<128x4xf32>, tensor<?x?xi64>) -> tensor<?x?x4xf32>
// CHECK: %[[GS:.*]] = onnx.Gather %[[SC]], %[[P]] {axis = 0 : i64}
// CHECK: %[[B:.*]] = resa.rotary %[[Q]], %[[GC]], %[[GS]] {interleaved = 1 : i64, num_heads = 4 : i64, rotary_dim = 8 : i64} : (tensor<?x?x64xf32>, tensor<?x?x4xf32>, tensor<?x?x4xf32>) -> tensor<?x?x64xf32>
// CHECK: return %[[A]], %[[B]]
func.func @onnx_rotary(%x: tensor<?x4x?x16xf32>, %c: tensor<?x?x8xf32>, %s: tensor<?x?x8xf32>, %q: tensor<?x?x64xf32>, %cc: tensor<128x4xf32>, %sc: tensor<128x4xf32>, %p: tensor<?x?xi64>) -> (tensor<?x4x?x16xf32>, tensor<?x?x64xf32>) {
  %0 = onnx.RotaryEmbedding %x, %c, %s {interleaved = 0 : i64, num_heads = 4 : i64} : (tensor<?x4x?x16xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x4x?x16xf32>
  %1 = onnx.RotaryEmbedding %q, %cc, %sc, %p {interleaved = 1 : i64, num_heads = 4 : i64, rotary_embedding_dim = 8 : i64} : (tensor<?x?x64xf32>, tensor<128x4xf32>, tensor<128x4xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  return %0, %1 : tensor<?x4x?x16xf32>, tensor<?x?x64xf32>
}

// -----

// A 3-D RotaryEmbedding without num_heads cannot be split into heads: not raised.
// CHECK-LABEL: func.func @onnx_rotary_no_heads(
// CHECK-NOT: resa.rotary
// CHECK: onnx.RotaryEmbedding
func.func @onnx_rotary_no_heads(%q: tensor<?x?x64xf32>, %c: tensor<?x?x8xf32>, %s: tensor<?x?x8xf32>) -> tensor<?x?x64xf32> {
  %0 = onnx.RotaryEmbedding %q, %c, %s : (tensor<?x?x64xf32>, tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}

// -----

// com.microsoft RotaryEmbedding: q and k share one Gather of each cache.
// CHECK-LABEL: func.func @ms_rotary(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[K:[a-z0-9]+]]: tensor<?x?x32xf32>, %[[P:[a-z0-9]+]]: tensor<?x?xi64>, %[[CC:[a-z0-9]+]]: tensor<128x8xf32>, %[[SC:[a-z0-9]+]]: tensor<128x8xf32>
// CHECK: %[[GC:.*]] = onnx.Gather %[[CC]], %[[P]] {axis = 0 : i64}
// CHECK: %[[GS:.*]] = onnx.Gather %[[SC]], %[[P]] {axis = 0 : i64}
// CHECK: %[[A:.*]] = resa.rotary %[[Q]], %[[GC]], %[[GS]] {interleaved = 0 : i64, num_heads = 4 : i64, rotary_dim = 16 : i64}
// CHECK-NOT: onnx.Gather
// CHECK: %[[B:.*]] = resa.rotary %[[K]], %[[GC]], %[[GS]] {interleaved = 0 : i64, num_heads = 2 : i64, rotary_dim = 16 : i64}
// CHECK: return %[[A]], %[[B]]
func.func @ms_rotary(%q: tensor<?x?x64xf32>, %k: tensor<?x?x32xf32>, %p: tensor<?x?xi64>, %cc: tensor<128x8xf32>, %sc: tensor<128x8xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x32xf32>) {
  %0 = onnx.ms.RotaryEmbedding %q, %p, %cc, %sc {interleaved = 0 : i64, num_heads = 4 : i64, rotary_embedding_dim = 16 : i64} : (tensor<?x?x64xf32>, tensor<?x?xi64>, tensor<128x8xf32>, tensor<128x8xf32>) -> tensor<?x?x64xf32>
  %1 = onnx.ms.RotaryEmbedding %k, %p, %cc, %sc {interleaved = 0 : i64, num_heads = 2 : i64, rotary_embedding_dim = 16 : i64} : (tensor<?x?x32xf32>, tensor<?x?xi64>, tensor<128x8xf32>, tensor<128x8xf32>) -> tensor<?x?x32xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<?x?x32xf32>
}

// -----

// com.microsoft RotaryEmbedding at one position offset (1-D position_ids): not raised.
// CHECK-LABEL: func.func @ms_rotary_offset(
// CHECK-NOT: resa.rotary
// CHECK: onnx.ms.RotaryEmbedding
func.func @ms_rotary_offset(%q: tensor<?x?x64xf32>, %p: tensor<1xi64>, %cc: tensor<128x8xf32>, %sc: tensor<128x8xf32>) -> tensor<?x?x64xf32> {
  %0 = onnx.ms.RotaryEmbedding %q, %p, %cc, %sc {num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<1xi64>, tensor<128x8xf32>, tensor<128x8xf32>) -> tensor<?x?x64xf32>
  return %0 : tensor<?x?x64xf32>
}
