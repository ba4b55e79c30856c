// resa-prefill-last-logits: @prefill's resa.logits takes the last position of its hidden states only ([B, S, H] -> [B, 1, H] by onnx.Slice), so @prefill returns [B, 1, vocab]; @decode is unchanged.
// RUN: resa-opt %s --split-input-file --resa-prefill-last-logits | FileCheck %s

// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: -> (tensor<?x1x100xf32> {onnx.name = "logits"}) {
// CHECK: %[[X:.*]] = resa.embedding
// CHECK-DAG: %[[START:.*]] = onnx.Constant {value = dense<-1> : tensor<1xi64>}
// CHECK-DAG: %[[END:.*]] = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>}
// CHECK-DAG: %[[AXIS:.*]] = onnx.Constant {value = dense<1> : tensor<1xi64>}
// CHECK: %[[LAST:.*]] = onnx.Slice %[[X]], %[[START]], %[[END]], %[[AXIS]] : (tensor<?x?x64xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x1x64xf32>
// CHECK-NEXT: %[[L:.*]] = resa.logits %[[LAST]], %{{.*}} : (tensor<?x1x64xf32>, tensor<64x100xf32>) -> tensor<?x1x100xf32>
// CHECK-NEXT: return %[[L]] : tensor<?x1x100xf32>

// CHECK-LABEL: func.func @decode(
// CHECK-SAME: -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
// CHECK-NOT: onnx.Slice
// CHECK: resa.logits %{{.*}} : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
module attributes {onnx.opset = 18 : i64} {
func.func @prefill(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %l = resa.logits %x, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
  return %l : tensor<?x?x100xf32>
}
func.func @decode(%ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"], onnx.name = "input_ids"}) -> (tensor<?x?x100xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<?x?xi64>) -> tensor<?x?x64xf32>
  %l = resa.logits %x, %lm : (tensor<?x?x64xf32>, tensor<64x100xf32>) -> tensor<?x?x100xf32>
  return %l : tensor<?x?x100xf32>
}
}

// -----

// Static dims; the logits are not the first result: only that result's type
// changes.
// CHECK-LABEL: func.func @prefill(
// CHECK-SAME: -> (tensor<2x7x64xf32> {onnx.name = "hidden"}, tensor<2x1x100xf32> {onnx.name = "logits"}) {
// CHECK: onnx.Slice %{{.*}} : (tensor<2x7x64xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<2x1x64xf32>
// CHECK-NEXT: %[[L:.*]] = resa.logits %{{.*}} : (tensor<2x1x64xf32>, tensor<64x100xf32>) -> tensor<2x1x100xf32>
// CHECK-NEXT: return %{{.*}}, %[[L]] : tensor<2x7x64xf32>, tensor<2x1x100xf32>
func.func @prefill(%ids: tensor<2x7xi64> {onnx.name = "input_ids"}) -> (tensor<2x7x64xf32> {onnx.name = "hidden"}, tensor<2x7x100xf32> {onnx.name = "logits"}) {
  %emb = onnx.initializer "embed" : tensor<100x64xf32>
  %lm = onnx.initializer "lm_head" : tensor<64x100xf32>
  %x = resa.embedding %emb, %ids : (tensor<100x64xf32>, tensor<2x7xi64>) -> tensor<2x7x64xf32>
  %l = resa.logits %x, %lm : (tensor<2x7x64xf32>, tensor<64x100xf32>) -> tensor<2x7x100xf32>
  return %x, %l : tensor<2x7x64xf32>, tensor<2x7x100xf32>
}
