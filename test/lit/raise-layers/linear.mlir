// resa-raise-linear: projections by parameters become resa.linear, embedding
// Gathers resa.embedding, gated MLPs resa.gated_mlp, the logits projection
// resa.logits; products by computed values and unproven activations stay.
// RUN: resa-opt %s --split-input-file --resa-raise-linear | FileCheck %s

// MatMul by an initializer, with and without a bias Add; MatMul of two activations stays.
// CHECK-LABEL: func.func @linear(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>, %[[Y:[a-z0-9]+]]: tensor<?x64x?xf32>
// CHECK-DAG: %[[W:.*]] = onnx.initializer "q.weight" : tensor<64x32xf32>
// CHECK-DAG: %[[B:.*]] = onnx.Constant {value = dense<5.000000e-01> : tensor<32xf32>}
// CHECK: %[[L0:.*]] = resa.linear %[[X]], %[[W]] : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
// CHECK: %[[L1:.*]] = resa.linear %[[X]], %[[W]], %[[B]] : (tensor<?x?x64xf32>, tensor<64x32xf32>, tensor<32xf32>) -> tensor<?x?x32xf32>
// CHECK: %[[MM:.*]] = onnx.MatMul %[[X]], %[[Y]]
// CHECK: return %[[L0]], %[[L1]], %[[MM]]
func.func @linear(%x: tensor<?x?x64xf32>, %y: tensor<?x64x?xf32>) -> (tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x?xf32>) {
  %w = onnx.initializer "q.weight" : tensor<64x32xf32>
  %b = onnx.Constant {value = dense<0.5> : tensor<32xf32>} : () -> tensor<32xf32>
  %0 = onnx.MatMul %x, %w : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %1 = onnx.MatMul %x, %w : (tensor<?x?x64xf32>, tensor<64x32xf32>) -> tensor<?x?x32xf32>
  %2 = onnx.Add %b, %1 : (tensor<32xf32>, tensor<?x?x32xf32>) -> tensor<?x?x32xf32>
  %3 = onnx.MatMul %x, %y : (tensor<?x?x64xf32>, tensor<?x64x?xf32>) -> tensor<?x?x?xf32>
  return %0, %2, %3 : tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x?x?xf32>
}

// -----

// GPT-2's Gemm on the flattened input; a transposed Gemm stays.
// CHECK-LABEL: func.func @gemm(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<?x64xf32>
// CHECK: %[[L:.*]] = resa.linear %[[A]], %{{.*}}, %{{.*}} : (tensor<?x64xf32>, tensor<64x192xf32>, tensor<192xf32>) -> tensor<?x192xf32>
// CHECK: %[[G:.*]] = onnx.Gemm %[[A]]
// CHECK: return %[[L]], %[[G]]
func.func @gemm(%a: tensor<?x64xf32>) -> (tensor<?x192xf32>, tensor<?x192xf32>) {
  %w = onnx.initializer "c_attn.weight" : tensor<64x192xf32>
  %wt = onnx.initializer "c_attn.weight.t" : tensor<192x64xf32>
  %b = onnx.initializer "c_attn.bias" : tensor<192xf32>
  %0 = onnx.Gemm %a, %w, %b {alpha = 1.0 : f32, beta = 1.0 : f32, transA = 0 : i64, transB = 0 : i64} : (tensor<?x64xf32>, tensor<64x192xf32>, tensor<192xf32>) -> tensor<?x192xf32>
  %1 = onnx.Gemm %a, %wt, %b {transB = 1 : i64} : (tensor<?x64xf32>, tensor<192x64xf32>, tensor<192xf32>) -> tensor<?x192xf32>
  return %0, %1 : tensor<?x192xf32>, tensor<?x192xf32>
}

// -----

// Token embedding; a Gather along another axis stays.
// CHECK-LABEL: func.func @embedding(
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>
// CHECK: %[[T:.*]] = onnx.initializer "embed.weight"
// CHECK: %[[E:.*]] = resa.embedding %[[T]], %[[IDS]] : (tensor<300x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
// CHECK: %[[G:.*]] = onnx.Gather %[[T]], %[[IDS]] {axis = 1 : i64}
// CHECK: return %[[E]], %[[G]]
func.func @embedding(%ids: tensor<?x?xi64>) -> (tensor<?x?x64xf32>, tensor<300x?x?xf32>) {
  %t = onnx.initializer "embed.weight" : tensor<300x64xf32>
  %0 = onnx.Gather %t, %ids {axis = 0 : i64} : (tensor<300x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %1 = onnx.Gather %t, %ids {axis = 1 : i64} : (tensor<300x64xf32>, tensor<?x?xi64>) -> tensor<300x?x?xf32>
  return %0, %1 : tensor<?x?x64xf32>, tensor<300x?x?xf32>
}

// -----

// Llama's MLP: down(silu(x Wg) * (x Wu)), SiLU as x * Sigmoid(x).
// CHECK-LABEL: func.func @mlp_silu(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-DAG: %[[WG:.*]] = onnx.initializer "gate.weight"
// CHECK-DAG: %[[WU:.*]] = onnx.initializer "up.weight"
// CHECK-DAG: %[[WD:.*]] = onnx.initializer "down.weight"
// CHECK: %[[M:.*]] = resa.gated_mlp %[[X]], %[[WG]], %[[WU]], %[[WD]] {activation = "silu"} : (tensor<?x?x64xf32>, tensor<64x160xf32>, tensor<64x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[M]]
func.func @mlp_silu(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %wg = onnx.initializer "gate.weight" : tensor<64x160xf32>
  %wu = onnx.initializer "up.weight" : tensor<64x160xf32>
  %wd = onnx.initializer "down.weight" : tensor<160x64xf32>
  %0 = onnx.MatMul %x, %wg : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %1 = onnx.Sigmoid %0 : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %2 = onnx.Mul %0, %1 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %3 = onnx.MatMul %x, %wu : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %4 = onnx.Mul %2, %3 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %5 = onnx.MatMul %4, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  return %5 : tensor<?x?x64xf32>
}

// -----

// Phi-3's fused gate-up projection split in two; up * silu(gate).
// CHECK-LABEL: func.func @mlp_fused(
// CHECK: %[[M:.*]] = resa.gated_mlp %{{.*}}, %{{.*}}, %{{.*}} {activation = "silu"} : (tensor<?x?x64xf32>, tensor<64x320xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
// CHECK-NEXT: return %[[M]]
func.func @mlp_fused(%x: tensor<?x?x64xf32>) -> tensor<?x?x64xf32> {
  %wgu = onnx.initializer "gate_up.weight" : tensor<64x320xf32>
  %wd = onnx.initializer "down.weight" : tensor<160x64xf32>
  %0 = onnx.MatMul %x, %wgu : (tensor<?x?x64xf32>, tensor<64x320xf32>) -> tensor<?x?x320xf32>
  %1:2 = onnx.Split %0 {axis = 2 : i64, num_outputs = 2 : i64} : (tensor<?x?x320xf32>) -> (tensor<?x?x160xf32>, tensor<?x?x160xf32>)
  %2 = onnx.Sigmoid %1#0 : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %3 = onnx.Mul %1#0, %2 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %4 = onnx.Mul %1#1, %3 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %5 = onnx.MatMul %4, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  return %5 : tensor<?x?x64xf32>
}

// -----

// Gemma's MLP as dynamo decomposes gelu(approximate="tanh"), and Gelu ops.
// CHECK-LABEL: func.func @mlp_gelu(
// CHECK: %[[A:.*]] = resa.gated_mlp %{{.*}} {activation = "gelu_tanh"}
// CHECK: %[[B:.*]] = resa.gated_mlp %{{.*}} {activation = "gelu_tanh"}
// CHECK: %[[C:.*]] = resa.gated_mlp %{{.*}} {activation = "gelu"}
// CHECK: return %[[A]], %[[B]], %[[C]]
// CHECK-NOT: onnx.Tanh
func.func @mlp_gelu(%x: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %wg = onnx.initializer "gate.weight" : tensor<64x160xf32>
  %wu = onnx.initializer "up.weight" : tensor<64x160xf32>
  %wd = onnx.initializer "down.weight" : tensor<160x64xf32>
  %c3 = onnx.Constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %c0044 = onnx.Constant {value = dense<0.044715> : tensor<f32>} : () -> tensor<f32>
  %c0797 = onnx.Constant {value = dense<0.797884583> : tensor<f32>} : () -> tensor<f32>
  %c1 = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %c05 = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %g = onnx.MatMul %x, %wg : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %u = onnx.MatMul %x, %wu : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %0 = onnx.Pow %g, %c3 : (tensor<?x?x160xf32>, tensor<f32>) -> tensor<?x?x160xf32>
  %1 = onnx.Mul %c0044, %0 : (tensor<f32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %2 = onnx.Add %g, %1 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %3 = onnx.Mul %c0797, %2 : (tensor<f32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %4 = onnx.Tanh %3 : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %5 = onnx.Add %4, %c1 : (tensor<?x?x160xf32>, tensor<f32>) -> tensor<?x?x160xf32>
  %6 = onnx.Mul %c05, %5 : (tensor<f32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %7 = onnx.Mul %g, %6 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %8 = onnx.Mul %7, %u : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %9 = onnx.MatMul %8, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  %10 = onnx.Gelu %g {approximate = "tanh"} : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %11 = onnx.Mul %10, %u : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %12 = onnx.MatMul %11, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  %13 = onnx.Gelu %g : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %14 = onnx.Mul %u, %13 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %15 = onnx.MatMul %14, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  return %9, %12, %15 : tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// Not a Gelu: the cubic coefficient is 0.05, not 0.044715; not SiLU: the
// Sigmoid is of the up projection. The projections are still raised.
// CHECK-LABEL: func.func @mlp_not_raised(
// CHECK-NOT: resa.gated_mlp
// CHECK: onnx.Tanh
// CHECK: onnx.Sigmoid
// CHECK-NOT: resa.gated_mlp
func.func @mlp_not_raised(%x: tensor<?x?x64xf32>) -> (tensor<?x?x64xf32>, tensor<?x?x64xf32>) {
  %wg = onnx.initializer "gate.weight" : tensor<64x160xf32>
  %wu = onnx.initializer "up.weight" : tensor<64x160xf32>
  %wd = onnx.initializer "down.weight" : tensor<160x64xf32>
  %c3 = onnx.Constant {value = dense<3.0> : tensor<f32>} : () -> tensor<f32>
  %c005 = onnx.Constant {value = dense<0.05> : tensor<f32>} : () -> tensor<f32>
  %c0797 = onnx.Constant {value = dense<0.797884583> : tensor<f32>} : () -> tensor<f32>
  %c1 = onnx.Constant {value = dense<1.0> : tensor<f32>} : () -> tensor<f32>
  %c05 = onnx.Constant {value = dense<0.5> : tensor<f32>} : () -> tensor<f32>
  %g = onnx.MatMul %x, %wg : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %u = onnx.MatMul %x, %wu : (tensor<?x?x64xf32>, tensor<64x160xf32>) -> tensor<?x?x160xf32>
  %0 = onnx.Pow %g, %c3 : (tensor<?x?x160xf32>, tensor<f32>) -> tensor<?x?x160xf32>
  %1 = onnx.Mul %c005, %0 : (tensor<f32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %2 = onnx.Add %g, %1 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %3 = onnx.Mul %c0797, %2 : (tensor<f32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %4 = onnx.Tanh %3 : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %5 = onnx.Add %4, %c1 : (tensor<?x?x160xf32>, tensor<f32>) -> tensor<?x?x160xf32>
  %6 = onnx.Mul %c05, %5 : (tensor<f32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %7 = onnx.Mul %g, %6 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %8 = onnx.Mul %7, %u : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %9 = onnx.MatMul %8, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  %10 = onnx.Sigmoid %u : (tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %11 = onnx.Mul %g, %10 : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %12 = onnx.Mul %11, %u : (tensor<?x?x160xf32>, tensor<?x?x160xf32>) -> tensor<?x?x160xf32>
  %13 = onnx.MatMul %12, %wd : (tensor<?x?x160xf32>, tensor<160x64xf32>) -> tensor<?x?x64xf32>
  return %9, %13 : tensor<?x?x64xf32>, tensor<?x?x64xf32>
}

// -----

// The projection computing the "logits" output, here through GPT-2's tied Transpose(wte).
// CHECK-LABEL: func.func @logits(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK: %[[T:.*]] = onnx.Transpose
// CHECK: %[[L:.*]] = resa.logits %[[X]], %[[T]] : (tensor<?x?x64xf32>, tensor<64x300xf32>) -> tensor<?x?x300xf32>
// CHECK: %[[H:.*]] = resa.linear %[[X]], %[[T]]
// CHECK: return %[[L]], %[[H]]
func.func @logits(%x: tensor<?x?x64xf32>) -> (tensor<?x?x300xf32> {onnx.name = "logits"}, tensor<?x?x300xf32> {onnx.name = "other"}) {
  %wte = onnx.initializer "wte.weight" : tensor<300x64xf32>
  %t = onnx.Transpose %wte {perm = array<i64: 1, 0>} : (tensor<300x64xf32>) -> tensor<64x300xf32>
  %0 = onnx.MatMul %x, %t : (tensor<?x?x64xf32>, tensor<64x300xf32>) -> tensor<?x?x300xf32>
  %1 = onnx.MatMul %x, %t : (tensor<?x?x64xf32>, tensor<64x300xf32>) -> tensor<?x?x300xf32>
  return %0, %1 : tensor<?x?x300xf32>, tensor<?x?x300xf32>
}
