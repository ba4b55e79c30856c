// Shape inference: broadcasting, MatMul, Reshape, Concat, Slice, Gather, Split, Transpose, (Un)Squeeze, reductions, attention, symbolic dims.
// RUN: resa-opt %s --split-input-file --resa-infer-shapes | FileCheck %s

// CHECK-LABEL: func.func @broadcast(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<?x8xf32>
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<8xf32>
// CHECK-SAME: %[[C:[a-z0-9]+]]: tensor<?x1x8xf32>
// CHECK-SAME: %[[D:[a-z0-9]+]]: tensor<1x?x8xf32>
// CHECK-SAME: %[[S:[a-z0-9]+]]: tensor<f32>
// CHECK-SAME: %[[P:[a-z0-9]+]]: tensor<?x1x8xi1>
// CHECK-SAME: -> (tensor<?x8xf32>, tensor<?x?x8xf32>, tensor<?x1x8xf32>, tensor<1x?x8xi1>, tensor<?x?x8xf32>, tensor<?x8xf32>)
// CHECK: onnx.Add %[[A]], %[[B]] : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<?x8xf32>
// CHECK: onnx.Mul %[[C]], %[[D]] : (tensor<?x1x8xf32>, tensor<1x?x8xf32>) -> tensor<?x?x8xf32>
// CHECK: onnx.Div %[[S]], %[[C]] : (tensor<f32>, tensor<?x1x8xf32>) -> tensor<?x1x8xf32>
// CHECK: onnx.Less %[[B]], %[[D]] : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<1x?x8xi1>
// CHECK: onnx.Where %[[P]], %[[D]], %[[S]] : (tensor<?x1x8xi1>, tensor<1x?x8xf32>, tensor<f32>) -> tensor<?x?x8xf32>
// CHECK: onnx.Max %[[A]], %[[B]], %[[S]] : (tensor<?x8xf32>, tensor<8xf32>, tensor<f32>) -> tensor<?x8xf32>
func.func @broadcast(%a: tensor<?x8xf32> {onnx.dim_params = ["n", ""]}, %b: tensor<8xf32>,
                     %c: tensor<?x1x8xf32> {onnx.dim_params = ["batch", "", ""]},
                     %d: tensor<1x?x8xf32> {onnx.dim_params = ["", "seq", ""]},
                     %s: tensor<f32>, %p: tensor<?x1x8xi1> {onnx.dim_params = ["batch", "", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi1>, tensor<*xf32>, tensor<*xf32>) {
  %0 = onnx.Add %a, %b : (tensor<?x8xf32>, tensor<8xf32>) -> tensor<*xf32>
  %1 = onnx.Mul %c, %d : (tensor<?x1x8xf32>, tensor<1x?x8xf32>) -> tensor<*xf32>
  %2 = onnx.Div %s, %c : (tensor<f32>, tensor<?x1x8xf32>) -> tensor<*xf32>
  %3 = onnx.Less %b, %d : (tensor<8xf32>, tensor<1x?x8xf32>) -> tensor<*xi1>
  %4 = onnx.Where %p, %d, %s : (tensor<?x1x8xi1>, tensor<1x?x8xf32>, tensor<f32>) -> tensor<*xf32>
  %5 = onnx.Max %a, %b, %s : (tensor<?x8xf32>, tensor<8xf32>, tensor<f32>) -> tensor<*xf32>
  return %0, %1, %2, %3, %4, %5 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi1>, tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @matmul(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x4x?x16xf32>
// CHECK-SAME: %[[KT:[a-z0-9]+]]: tensor<?x1x16x?xf32>
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x4xf32>
// CHECK-SAME: %[[V:[a-z0-9]+]]: tensor<4xf32>
// CHECK-SAME: %[[W:[a-z0-9]+]]: tensor<1x4x6xf32>
// CHECK-SAME: -> (tensor<?x4x?x?xf32>, tensor<2x3xf32>, tensor<1x6xf32>, tensor<f32>, tensor<2x3x6xf32>)
// CHECK: onnx.MatMul %[[Q]], %[[KT]] : (tensor<?x4x?x16xf32>, tensor<?x1x16x?xf32>) -> tensor<?x4x?x?xf32>
// CHECK: onnx.MatMul %[[X]], %[[V]] : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<2x3xf32>
// CHECK: onnx.MatMul %[[V]], %[[W]] : (tensor<4xf32>, tensor<1x4x6xf32>) -> tensor<1x6xf32>
// CHECK: onnx.MatMul %[[V]], %[[V]] : (tensor<4xf32>, tensor<4xf32>) -> tensor<f32>
// CHECK: onnx.MatMul %[[X]], %[[W]] : (tensor<2x3x4xf32>, tensor<1x4x6xf32>) -> tensor<2x3x6xf32>
func.func @matmul(%q: tensor<?x4x?x16xf32> {onnx.dim_params = ["batch", "", "seq", ""]},
                  %kt: tensor<?x1x16x?xf32> {onnx.dim_params = ["batch", "", "", "seq"]},
                  %x: tensor<2x3x4xf32>, %v: tensor<4xf32>, %w: tensor<1x4x6xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %0 = onnx.MatMul %q, %kt : (tensor<?x4x?x16xf32>, tensor<?x1x16x?xf32>) -> tensor<*xf32>
  %1 = onnx.MatMul %x, %v : (tensor<2x3x4xf32>, tensor<4xf32>) -> tensor<*xf32>
  %2 = onnx.MatMul %v, %w : (tensor<4xf32>, tensor<1x4x6xf32>) -> tensor<*xf32>
  %3 = onnx.MatMul %v, %v : (tensor<4xf32>, tensor<4xf32>) -> tensor<*xf32>
  %4 = onnx.MatMul %x, %w : (tensor<2x3x4xf32>, tensor<1x4x6xf32>) -> tensor<*xf32>
  return %0, %1, %2, %3, %4 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @reshape(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: %[[Y:[a-z0-9]+]]: tensor<2x3x4xf32>
// CHECK-SAME: -> (tensor<2x12xf32>, tensor<4x3x2xf32>, tensor<?x?x4x16xf32>, tensor<?x?x64xf32>, tensor<?x16xf32>)
// CHECK: %[[T0:.*]] = onnx.Constant {value = dense<[0, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: onnx.Reshape %[[Y]], %[[T0]] : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<2x12xf32>
// CHECK: %[[T1:.*]] = onnx.Constant {value = dense<[-1, 0, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: onnx.Reshape %[[Y]], %[[T1]] : (tensor<2x3x4xf32>, tensor<3xi64>) -> tensor<4x3x2xf32>
// CHECK: %[[T2:.*]] = onnx.Constant {value = dense<[0, 0, 4, 16]> : tensor<4xi64>} : () -> tensor<4xi64>
// CHECK: %[[R2:.*]] = onnx.Reshape %[[X]], %[[T2]] : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x4x16xf32>
// CHECK: %[[T3:.*]] = onnx.Constant {value = dense<[0, 0, -1]> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: onnx.Reshape %[[R2]], %[[T3]] : (tensor<?x?x4x16xf32>, tensor<3xi64>) -> tensor<?x?x64xf32>
// CHECK: %[[T4:.*]] = onnx.Constant {value = dense<[-1, 16]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: onnx.Reshape %[[X]], %[[T4]] : (tensor<?x?x64xf32>, tensor<2xi64>) -> tensor<?x16xf32>
func.func @reshape(%x: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]}, %y: tensor<2x3x4xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %t0 = onnx.Constant {value = dense<[0, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.Reshape %y, %t0 : (tensor<2x3x4xf32>, tensor<2xi64>) -> tensor<*xf32>
  %t1 = onnx.Constant {value = dense<[-1, 0, 2]> : tensor<3xi64>} : () -> tensor<3xi64>
  %1 = onnx.Reshape %y, %t1 : (tensor<2x3x4xf32>, tensor<3xi64>) -> tensor<*xf32>
  %t2 = onnx.Constant {value = dense<[0, 0, 4, 16]> : tensor<4xi64>} : () -> tensor<4xi64>
  %2 = onnx.Reshape %x, %t2 : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<*xf32>
  %t3 = onnx.Constant {value = dense<[0, 0, -1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %3 = onnx.Reshape %2, %t3 : (tensor<*xf32>, tensor<3xi64>) -> tensor<*xf32>
  %t4 = onnx.Constant {value = dense<[-1, 16]> : tensor<2xi64>} : () -> tensor<2xi64>
  %4 = onnx.Reshape %x, %t4 : (tensor<?x?x64xf32>, tensor<2xi64>) -> tensor<*xf32>
  return %0, %1, %2, %3, %4 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @concat(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<2x3xf32>
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<2x5xf32>
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x8xf32>
// CHECK-SAME: %[[P:[a-z0-9]+]]: tensor<?x?x8xf32>
// CHECK-SAME: -> (tensor<2x8xf32>, tensor<2x11xf32>, tensor<?x?x8xf32>, tensor<3xi64>)
// CHECK: onnx.Concat %[[A]], %[[B]] {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
// CHECK: onnx.Concat %[[A]], %[[B]], %[[A]] {axis = -1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>, tensor<2x3xf32>) -> tensor<2x11xf32>
// CHECK: onnx.Concat %[[P]], %[[X]] {axis = 1 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<?x?x8xf32>
// CHECK: %[[C1:.*]] = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: %[[C2:.*]] = onnx.Constant {value = dense<7> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: onnx.Concat %[[C1]], %[[C2]] {axis = 0 : i64} : (tensor<2xi64>, tensor<1xi64>) -> tensor<3xi64>
func.func @concat(%a: tensor<2x3xf32>, %b: tensor<2x5xf32>,
                  %x: tensor<?x?x8xf32> {onnx.dim_params = ["batch", "seq", ""]},
                  %p: tensor<?x?x8xf32> {onnx.dim_params = ["batch", "past", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi64>) {
  %0 = onnx.Concat %a, %b {axis = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<*xf32>
  %1 = onnx.Concat %a, %b, %a {axis = -1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>, tensor<2x3xf32>) -> tensor<*xf32>
  %2 = onnx.Concat %p, %x {axis = 1 : i64} : (tensor<?x?x8xf32>, tensor<?x?x8xf32>) -> tensor<*xf32>
  %c1 = onnx.Constant {value = dense<[1, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %c2 = onnx.Constant {value = dense<7> : tensor<1xi64>} : () -> tensor<1xi64>
  %3 = onnx.Concat %c1, %c2 {axis = 0 : i64} : (tensor<2xi64>, tensor<1xi64>) -> tensor<*xi64>
  return %0, %1, %2, %3 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi64>
}

// -----

// CHECK-LABEL: func.func @slice(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<10x20x30xf32>
// CHECK-SAME: %[[Y:[a-z0-9]+]]: tensor<?x?x8xf32>
// CHECK-SAME: -> (tensor<4x20x10xf32>, tensor<10x20x30xf32>, tensor<10x5x7xf32>, tensor<?x4x8xf32>)
// CHECK: %[[S0:.*]] = onnx.Constant {value = dense<[1, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: %[[E0:.*]] = onnx.Constant {value = dense<[5, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: %[[A0:.*]] = onnx.Constant {value = dense<[0, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: %[[ST0:.*]] = onnx.Constant {value = dense<[1, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: onnx.Slice %[[X]], %[[S0]], %[[E0]], %[[A0]], %[[ST0]] : (tensor<10x20x30xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<4x20x10xf32>
// CHECK: %[[S1:.*]] = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: %[[E1:.*]] = onnx.Constant {value = dense<-9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: %[[A1:.*]] = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: %[[ST1:.*]] = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: onnx.Slice %[[X]], %[[S1]], %[[E1]], %[[A1]], %[[ST1]] : (tensor<10x20x30xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<10x20x30xf32>
// CHECK: %[[S2:.*]] = onnx.Constant {value = dense<0> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: %[[E2:.*]] = onnx.Constant {value = dense<[100, 5, 7]> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: onnx.Slice %[[X]], %[[S2]], %[[E2]] : (tensor<10x20x30xf32>, tensor<3xi64>, tensor<3xi64>) -> tensor<10x5x7xf32>
// CHECK: %[[S3:.*]] = onnx.Constant {value = dense<-4> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: %[[E3:.*]] = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: onnx.Slice %[[Y]], %[[S3]], %[[E3]], %[[A1]] : (tensor<?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<?x4x8xf32>
func.func @slice(%x: tensor<10x20x30xf32>, %y: tensor<?x?x8xf32> {onnx.dim_params = ["batch", "seq", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %s0 = onnx.Constant {value = dense<[1, 0]> : tensor<2xi64>} : () -> tensor<2xi64>
  %e0 = onnx.Constant {value = dense<[5, -2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %a0 = onnx.Constant {value = dense<[0, 2]> : tensor<2xi64>} : () -> tensor<2xi64>
  %st0 = onnx.Constant {value = dense<[1, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.Slice %x, %s0, %e0, %a0, %st0 : (tensor<10x20x30xf32>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>, tensor<2xi64>) -> tensor<*xf32>
  %s1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %e1 = onnx.Constant {value = dense<-9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %a1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %st1 = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %1 = onnx.Slice %x, %s1, %e1, %a1, %st1 : (tensor<10x20x30xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  %s2 = onnx.Constant {value = dense<[0, 0, 0]> : tensor<3xi64>} : () -> tensor<3xi64>
  %e2 = onnx.Constant {value = dense<[100, 5, 7]> : tensor<3xi64>} : () -> tensor<3xi64>
  %2 = onnx.Slice %x, %s2, %e2 : (tensor<10x20x30xf32>, tensor<3xi64>, tensor<3xi64>) -> tensor<*xf32>
  %s3 = onnx.Constant {value = dense<-4> : tensor<1xi64>} : () -> tensor<1xi64>
  %e3 = onnx.Constant {value = dense<9223372036854775807> : tensor<1xi64>} : () -> tensor<1xi64>
  %3 = onnx.Slice %y, %s3, %e3, %a1 : (tensor<?x?x8xf32>, tensor<1xi64>, tensor<1xi64>, tensor<1xi64>) -> tensor<*xf32>
  return %0, %1, %2, %3 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @gather(
// CHECK-SAME: %[[EMB:[a-z0-9]+]]: tensor<100x16xf32>
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<?x?xi64>
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x4xf32>
// CHECK-SAME: -> (tensor<?x?x16xf32>, tensor<2x4xf32>, tensor<2x3x3x2xf32>, tensor<i64>)
// CHECK: onnx.Gather %[[EMB]], %[[IDS]] {axis = 0 : i64} : (tensor<100x16xf32>, tensor<?x?xi64>) -> tensor<?x?x16xf32>
// CHECK: %[[I:.*]] = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
// CHECK: onnx.Gather %[[X]], %[[I]] {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<i64>) -> tensor<2x4xf32>
// CHECK: %[[J:.*]] = onnx.Constant {value = dense<{{\[\[}}0, 1], [2, 3], [1, 1]]> : tensor<3x2xi64>} : () -> tensor<3x2xi64>
// CHECK: onnx.Gather %[[X]], %[[J]] {axis = -1 : i64} : (tensor<2x3x4xf32>, tensor<3x2xi64>) -> tensor<2x3x3x2xf32>
// CHECK: %[[C:.*]] = onnx.Constant {value = dense<[5, 6, 7]> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: %[[K:.*]] = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
// CHECK: onnx.Gather %[[C]], %[[K]] {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<i64>
func.func @gather(%emb: tensor<100x16xf32>, %ids: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"]}, %x: tensor<2x3x4xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi64>) {
  %0 = onnx.Gather %emb, %ids {axis = 0 : i64} : (tensor<100x16xf32>, tensor<?x?xi64>) -> tensor<*xf32>
  %i = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %1 = onnx.Gather %x, %i {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<i64>) -> tensor<*xf32>
  %j = onnx.Constant {value = dense<[[0, 1], [2, 3], [1, 1]]> : tensor<3x2xi64>} : () -> tensor<3x2xi64>
  %2 = onnx.Gather %x, %j {axis = -1 : i64} : (tensor<2x3x4xf32>, tensor<3x2xi64>) -> tensor<*xf32>
  %c = onnx.Constant {value = dense<[5, 6, 7]> : tensor<3xi64>} : () -> tensor<3xi64>
  %k = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  %3 = onnx.Gather %c, %k {axis = 0 : i64} : (tensor<3xi64>, tensor<i64>) -> tensor<*xi64>
  return %0, %1, %2, %3 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi64>
}

// -----

// CHECK-LABEL: func.func @split(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x10xf32>
// CHECK-SAME: %[[Y:[a-z0-9]+]]: tensor<?x?x96xf32>
// CHECK-SAME: -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x2xf32>, tensor<?x?x64xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>, tensor<2x10xf32>)
// CHECK: onnx.Split %[[X]] {axis = 1 : i64, num_outputs = 3 : i64} : (tensor<2x10xf32>) -> (tensor<2x4xf32>, tensor<2x4xf32>, tensor<2x2xf32>)
// CHECK: %[[S:.*]] = onnx.Constant {value = dense<[64, 16, 16]> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: onnx.Split %[[Y]], %[[S]] {axis = -1 : i64} : (tensor<?x?x96xf32>, tensor<3xi64>) -> (tensor<?x?x64xf32>, tensor<?x?x16xf32>, tensor<?x?x16xf32>)
// CHECK: onnx.Split %[[X]] {axis = 0 : i64, split = array<i64: 2>} : (tensor<2x10xf32>) -> tensor<2x10xf32>
func.func @split(%x: tensor<2x10xf32>, %y: tensor<?x?x96xf32> {onnx.dim_params = ["batch", "seq", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %0:3 = onnx.Split %x {axis = 1 : i64, num_outputs = 3 : i64} : (tensor<2x10xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %s = onnx.Constant {value = dense<[64, 16, 16]> : tensor<3xi64>} : () -> tensor<3xi64>
  %1:3 = onnx.Split %y, %s {axis = -1 : i64} : (tensor<?x?x96xf32>, tensor<3xi64>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %2 = onnx.Split %x {axis = 0 : i64, split = array<i64: 2>} : (tensor<2x10xf32>) -> tensor<*xf32>
  return %0#0, %0#1, %0#2, %1#0, %1#1, %1#2, %2 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @transpose(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x4x16xf32>
// CHECK-SAME: %[[Y:[a-z0-9]+]]: tensor<2x3x5xf32>
// CHECK-SAME: -> (tensor<?x4x?x16xf32>, tensor<5x3x2xf32>)
// CHECK: onnx.Transpose %[[X]] {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x4x16xf32>) -> tensor<?x4x?x16xf32>
// CHECK: onnx.Transpose %[[Y]] : (tensor<2x3x5xf32>) -> tensor<5x3x2xf32>
func.func @transpose(%x: tensor<?x?x4x16xf32> {onnx.dim_params = ["batch", "seq", "", ""]}, %y: tensor<2x3x5xf32>)
    -> (tensor<*xf32>, tensor<*xf32>) {
  %0 = onnx.Transpose %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<?x?x4x16xf32>) -> tensor<*xf32>
  %1 = onnx.Transpose %y : (tensor<2x3x5xf32>) -> tensor<*xf32>
  return %0, %1 : tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @squeeze(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x1x8xf32>
// CHECK-SAME: %[[Y:[a-z0-9]+]]: tensor<1x3x1xf32>
// CHECK-SAME: -> (tensor<1x?x1x8x1xf32>, tensor<?x8xf32>, tensor<3xf32>, tensor<1x1x3x1xf32>, tensor<1x3xf32>)
// CHECK: %[[A:.*]] = onnx.Constant {value = dense<[0, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: onnx.Unsqueeze %[[X]], %[[A]] : (tensor<?x1x8xf32>, tensor<2xi64>) -> tensor<1x?x1x8x1xf32>
// CHECK: %[[B:.*]] = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: onnx.Squeeze %[[X]], %[[B]] : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<?x8xf32>
// CHECK: onnx.Squeeze %[[Y]] : (tensor<1x3x1xf32>) -> tensor<3xf32>
// CHECK: onnx.Unsqueeze %[[Y]] {axes = array<i64: 1>} : (tensor<1x3x1xf32>) -> tensor<1x1x3x1xf32>
// CHECK: onnx.Squeeze %[[Y]] {axes = array<i64: -1>} : (tensor<1x3x1xf32>) -> tensor<1x3xf32>
func.func @squeeze(%x: tensor<?x1x8xf32> {onnx.dim_params = ["batch", "", ""]}, %y: tensor<1x3x1xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %a = onnx.Constant {value = dense<[0, -1]> : tensor<2xi64>} : () -> tensor<2xi64>
  %0 = onnx.Unsqueeze %x, %a : (tensor<?x1x8xf32>, tensor<2xi64>) -> tensor<*xf32>
  %b = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %1 = onnx.Squeeze %x, %b : (tensor<?x1x8xf32>, tensor<1xi64>) -> tensor<*xf32>
  %2 = onnx.Squeeze %y : (tensor<1x3x1xf32>) -> tensor<*xf32>
  %3 = onnx.Unsqueeze %y {axes = array<i64: 1>} : (tensor<1x3x1xf32>) -> tensor<*xf32>
  %4 = onnx.Squeeze %y {axes = array<i64: -1>} : (tensor<1x3x1xf32>) -> tensor<*xf32>
  return %0, %1, %2, %3, %4 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @reduce(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x8xf32>
// CHECK-SAME: -> (tensor<?x?x1xf32>, tensor<?x?xf32>, tensor<1x1x1xf32>, tensor<?xf32>, tensor<f32>, tensor<?x1x8xi64>)
// CHECK: %[[A:.*]] = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
// CHECK: onnx.ReduceMean %[[X]], %[[A]] : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x?x1xf32>
// CHECK: onnx.ReduceSum %[[X]], %[[A]] {keepdims = 0 : i64} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<?x?xf32>
// CHECK: onnx.ReduceMax %[[X]] {keepdims = 1 : i64} : (tensor<?x?x8xf32>) -> tensor<1x1x1xf32>
// CHECK: onnx.ReduceMin %[[X]] {axes = array<i64: 0, 2>, keepdims = 0 : i64} : (tensor<?x?x8xf32>) -> tensor<?xf32>
// CHECK: onnx.ReduceProd %[[X]] {keepdims = 0 : i64} : (tensor<?x?x8xf32>) -> tensor<f32>
// CHECK: onnx.ArgMax %[[X]] {axis = 1 : i64} : (tensor<?x?x8xf32>) -> tensor<?x1x8xi64>
func.func @reduce(%x: tensor<?x?x8xf32> {onnx.dim_params = ["batch", "seq", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi64>) {
  %a = onnx.Constant {value = dense<-1> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.ReduceMean %x, %a : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<*xf32>
  %1 = onnx.ReduceSum %x, %a {keepdims = 0 : i64} : (tensor<?x?x8xf32>, tensor<1xi64>) -> tensor<*xf32>
  %2 = onnx.ReduceMax %x {keepdims = 1 : i64} : (tensor<?x?x8xf32>) -> tensor<*xf32>
  %3 = onnx.ReduceMin %x {axes = array<i64: 0, 2>, keepdims = 0 : i64} : (tensor<?x?x8xf32>) -> tensor<*xf32>
  %4 = onnx.ReduceProd %x {keepdims = 0 : i64} : (tensor<?x?x8xf32>) -> tensor<*xf32>
  %5 = onnx.ArgMax %x {axis = 1 : i64} : (tensor<?x?x8xf32>) -> tensor<*xi64>
  return %0, %1, %2, %3, %4, %5 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi64>
}

// -----

// CHECK-LABEL: func.func @attention(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x8x?x16xf32>
// CHECK-SAME: %[[K:[a-z0-9]+]]: tensor<?x2x?x16xf32>
// CHECK-SAME: %[[V:[a-z0-9]+]]: tensor<?x2x?x32xf32>
// CHECK-SAME: %[[PK:[a-z0-9]+]]: tensor<?x2x?x16xf32>
// CHECK-SAME: %[[PV:[a-z0-9]+]]: tensor<?x2x?x32xf32>
// CHECK-SAME: %[[Q3:[a-z0-9]+]]: tensor<2x5x128xf32>
// CHECK-SAME: %[[K3:[a-z0-9]+]]: tensor<2x7x32xf32>
// CHECK-SAME: %[[V3:[a-z0-9]+]]: tensor<2x7x32xf32>
// CHECK-SAME: -> (tensor<?x8x?x32xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>, tensor<2x5x128xf32>, tensor<?x?x?x?xf32>)
// CHECK: %[[N:.*]] = onnx.none
// CHECK: onnx.Attention %[[Q]], %[[K]], %[[V]], %[[N]], %[[PK]], %[[PV]] {is_causal = 1 : i64} : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>, none, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>) -> (tensor<?x8x?x32xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>)
// CHECK: onnx.Attention %[[Q3]], %[[K3]], %[[V3]] {kv_num_heads = 2 : i64, q_num_heads = 8 : i64} : (tensor<2x5x128xf32>, tensor<2x7x32xf32>, tensor<2x7x32xf32>) -> tensor<2x5x128xf32>
// CHECK: onnx.Attention %[[Q]], %[[K]], %[[V]] {is_causal = 1 : i64, qk_matmul_output_mode = 0 : i64} : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>) -> (tensor<?x8x?x32xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>, tensor<?x?x?x?xf32>)
module attributes {onnx.opset = 23 : i64} {
func.func @attention(%q: tensor<?x8x?x16xf32> {onnx.dim_params = ["batch", "", "seq", ""]},
                     %k: tensor<?x2x?x16xf32> {onnx.dim_params = ["batch", "", "seq", ""]},
                     %v: tensor<?x2x?x32xf32> {onnx.dim_params = ["batch", "", "seq", ""]},
                     %pk: tensor<?x2x?x16xf32> {onnx.dim_params = ["batch", "", "past", ""]},
                     %pv: tensor<?x2x?x32xf32> {onnx.dim_params = ["batch", "", "past", ""]},
                     %q3: tensor<2x5x128xf32>, %k3: tensor<2x7x32xf32>, %v3: tensor<2x7x32xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %n = onnx.none
  %0:3 = onnx.Attention %q, %k, %v, %n, %pk, %pv {is_causal = 1 : i64} : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>, none, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %1 = onnx.Attention %q3, %k3, %v3 {q_num_heads = 8 : i64, kv_num_heads = 2 : i64} : (tensor<2x5x128xf32>, tensor<2x7x32xf32>, tensor<2x7x32xf32>) -> tensor<*xf32>
  %2:4 = onnx.Attention %q, %k, %v {is_causal = 1 : i64, qk_matmul_output_mode = 0 : i64} : (tensor<?x8x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x32xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  return %0#0, %0#1, %0#2, %1, %2#3 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}
}

// -----

// GQA's present length is max(total_sequence_length, past buffer length), as in
// onnxruntime: unknown when the buffer length is symbolic.
// CHECK-LABEL: func.func @gqa(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: %[[K:[a-z0-9]+]]: tensor<?x?x32xf32>
// CHECK-SAME: %[[V:[a-z0-9]+]]: tensor<?x?x32xf32>
// CHECK-SAME: %[[PK:[a-z0-9]+]]: tensor<?x2x?x16xf32>
// CHECK-SAME: %[[PV:[a-z0-9]+]]: tensor<?x2x?x16xf32>
// CHECK-SAME: %[[LENS:[a-z0-9]+]]: tensor<?x1xi32>
// CHECK-SAME: %[[PACKED:[a-z0-9]+]]: tensor<1x3x128xf32>
// CHECK-SAME: %[[BUF:[a-z0-9]+]]: tensor<1x2x128x16xf32>
// CHECK-SAME: %[[SHORT:[a-z0-9]+]]: tensor<1x2x8x16xf32>
// CHECK-SAME: -> (tensor<?x?x64xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<1x3x64xf32>, tensor<1x2x128x16xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>)
// CHECK: %[[TOTAL:.*]] = onnx.Constant {value = dense<40> : tensor<i32>} : () -> tensor<i32>
// CHECK: %[[N:.*]] = onnx.none
// CHECK: onnx.ms.GroupQueryAttention %[[Q]], %[[K]], %[[V]], %[[PK]], %[[PV]], %[[LENS]], %[[TOTAL]] {kv_num_heads = 2 : i64, num_heads = 4 : i64} : ({{.*}}) -> (tensor<?x?x64xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>)
// CHECK: onnx.ms.GroupQueryAttention %[[PACKED]], %[[N]], %[[N]], %[[BUF]], %[[BUF]], %[[LENS]], %[[TOTAL]] {kv_num_heads = 2 : i64, num_heads = 4 : i64} : ({{.*}}) -> (tensor<1x3x64xf32>, tensor<1x2x128x16xf32>, tensor<1x2x128x16xf32>)
// CHECK: onnx.ms.GroupQueryAttention %[[PACKED]], %[[N]], %[[N]], %[[SHORT]], %[[SHORT]], %[[LENS]], %[[TOTAL]] {kv_num_heads = 2 : i64, num_heads = 4 : i64} : ({{.*}}) -> (tensor<1x3x64xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>)
// CHECK: onnx.ms.GroupQueryAttention %[[PACKED]], %[[N]], %[[N]], %[[N]], %[[N]], %[[LENS]], %[[TOTAL]] {kv_num_heads = 2 : i64, num_heads = 4 : i64} : ({{.*}}) -> (tensor<1x3x64xf32>, tensor<1x2x40x16xf32>, tensor<1x2x40x16xf32>)
module attributes {onnx.opset = 18 : i64, onnx.ms_opset = 1 : i64} {
func.func @gqa(%q: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]},
               %k: tensor<?x?x32xf32> {onnx.dim_params = ["batch", "seq", ""]},
               %v: tensor<?x?x32xf32> {onnx.dim_params = ["batch", "seq", ""]},
               %pk: tensor<?x2x?x16xf32> {onnx.dim_params = ["batch", "", "max", ""]},
               %pv: tensor<?x2x?x16xf32> {onnx.dim_params = ["batch", "", "max", ""]},
               %lens: tensor<?x1xi32> {onnx.dim_params = ["batch", ""]},
               %packed: tensor<1x3x128xf32>, %buf: tensor<1x2x128x16xf32>, %short: tensor<1x2x8x16xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %total = onnx.Constant {value = dense<40> : tensor<i32>} : () -> tensor<i32>
  %n = onnx.none
  %0:3 = onnx.ms.GroupQueryAttention %q, %k, %v, %pk, %pv, %lens, %total {num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<?x?x64xf32>, tensor<?x?x32xf32>, tensor<?x?x32xf32>, tensor<?x2x?x16xf32>, tensor<?x2x?x16xf32>, tensor<?x1xi32>, tensor<i32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %1:3 = onnx.ms.GroupQueryAttention %packed, %n, %n, %buf, %buf, %lens, %total {num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<1x3x128xf32>, none, none, tensor<1x2x128x16xf32>, tensor<1x2x128x16xf32>, tensor<?x1xi32>, tensor<i32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %2:3 = onnx.ms.GroupQueryAttention %packed, %n, %n, %short, %short, %lens, %total {num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<1x3x128xf32>, none, none, tensor<1x2x8x16xf32>, tensor<1x2x8x16xf32>, tensor<?x1xi32>, tensor<i32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %3:3 = onnx.ms.GroupQueryAttention %packed, %n, %n, %n, %n, %lens, %total {num_heads = 4 : i64, kv_num_heads = 2 : i64} : (tensor<1x3x128xf32>, none, none, none, none, tensor<?x1xi32>, tensor<i32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  return %0#0, %0#1, %0#2, %1#0, %1#1, %2#1, %3#2 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}
}

// -----

// CHECK-LABEL: func.func @mha(
// CHECK-SAME: %[[Q:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: %[[K:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: %[[V:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: %[[PK:[a-z0-9]+]]: tensor<?x4x?x16xf32>
// CHECK-SAME: %[[PV:[a-z0-9]+]]: tensor<?x4x?x16xf32>
// CHECK-SAME: %[[Q2:[a-z0-9]+]]: tensor<2x3x64xf32>
// CHECK-SAME: %[[K2:[a-z0-9]+]]: tensor<2x3x64xf32>
// CHECK-SAME: %[[PK2:[a-z0-9]+]]: tensor<2x4x5x16xf32>
// CHECK-SAME: -> (tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>, tensor<2x3x64xf32>, tensor<2x4x8x16xf32>)
// CHECK: %[[N:.*]] = onnx.none
// CHECK: onnx.ms.MultiHeadAttention %[[Q]], %[[K]], %[[V]], %[[N]], %[[N]], %[[N]], %[[PK]], %[[PV]] {num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, none, none, none, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> (tensor<?x?x64xf32>, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>)
// CHECK: onnx.ms.MultiHeadAttention %[[Q2]], %[[K2]], %[[K2]], %[[N]], %[[N]], %[[N]], %[[PK2]], %[[PK2]] {num_heads = 4 : i64} : (tensor<2x3x64xf32>, tensor<2x3x64xf32>, tensor<2x3x64xf32>, none, none, none, tensor<2x4x5x16xf32>, tensor<2x4x5x16xf32>) -> (tensor<2x3x64xf32>, tensor<2x4x8x16xf32>, tensor<2x4x8x16xf32>)
module attributes {onnx.opset = 18 : i64, onnx.ms_opset = 1 : i64} {
func.func @mha(%q: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]},
               %k: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]},
               %v: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]},
               %pk: tensor<?x4x?x16xf32> {onnx.dim_params = ["batch", "", "past", ""]},
               %pv: tensor<?x4x?x16xf32> {onnx.dim_params = ["batch", "", "past", ""]},
               %q2: tensor<2x3x64xf32>, %k2: tensor<2x3x64xf32>, %pk2: tensor<2x4x5x16xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %n = onnx.none
  %0:3 = onnx.ms.MultiHeadAttention %q, %k, %v, %n, %n, %n, %pk, %pv {num_heads = 4 : i64} : (tensor<?x?x64xf32>, tensor<?x?x64xf32>, tensor<?x?x64xf32>, none, none, none, tensor<?x4x?x16xf32>, tensor<?x4x?x16xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %1:3 = onnx.ms.MultiHeadAttention %q2, %k2, %k2, %n, %n, %n, %pk2, %pk2 {num_heads = 4 : i64} : (tensor<2x3x64xf32>, tensor<2x3x64xf32>, tensor<2x3x64xf32>, none, none, none, tensor<2x4x5x16xf32>, tensor<2x4x5x16xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  return %0#0, %0#1, %0#2, %1#0, %1#1 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}
}

// -----

// Equal dim_params are one symbol (seq - seq = 0); other names, or none, are distinct symbols.
// CHECK-LABEL: func.func @symbols(
// CHECK-SAME: %[[A:[a-z0-9]+]]: tensor<?x4xf32>
// CHECK-SAME: %[[B:[a-z0-9]+]]: tensor<?x4xf32>
// CHECK-SAME: %[[C:[a-z0-9]+]]: tensor<?x4xf32>
// CHECK-SAME: %[[D:[a-z0-9]+]]: tensor<?x4xf32>
// CHECK-SAME: -> (tensor<0x0xf32>, tensor<?x0xf32>, tensor<0x0xf32>, tensor<?x0xf32>)
// CHECK: %[[SA:.*]] = onnx.Shape %[[A]] : (tensor<?x4xf32>) -> tensor<2xi64>
// CHECK: %[[SB:.*]] = onnx.Shape %[[B]] : (tensor<?x4xf32>) -> tensor<2xi64>
// CHECK: %[[SC:.*]] = onnx.Shape %[[C]] : (tensor<?x4xf32>) -> tensor<2xi64>
// CHECK: %[[SD:.*]] = onnx.Shape %[[D]] : (tensor<?x4xf32>) -> tensor<2xi64>
// CHECK: %[[AB:.*]] = onnx.Sub %[[SA]], %[[SB]] : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
// CHECK: onnx.ConstantOfShape %[[AB]] : (tensor<2xi64>) -> tensor<0x0xf32>
// CHECK: %[[AC:.*]] = onnx.Sub %[[SA]], %[[SC]] : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
// CHECK: onnx.ConstantOfShape %[[AC]] : (tensor<2xi64>) -> tensor<?x0xf32>
// CHECK: %[[DD:.*]] = onnx.Sub %[[SD]], %[[SD]] : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
// CHECK: onnx.ConstantOfShape %[[DD]] : (tensor<2xi64>) -> tensor<0x0xf32>
// CHECK: %[[AD:.*]] = onnx.Sub %[[SA]], %[[SD]] : (tensor<2xi64>, tensor<2xi64>) -> tensor<2xi64>
// CHECK: onnx.ConstantOfShape %[[AD]] : (tensor<2xi64>) -> tensor<?x0xf32>
func.func @symbols(%a: tensor<?x4xf32> {onnx.dim_params = ["seq", ""]},
                   %b: tensor<?x4xf32> {onnx.dim_params = ["seq", ""]},
                   %c: tensor<?x4xf32> {onnx.dim_params = ["other", ""]},
                   %d: tensor<?x4xf32>)
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>) {
  %sa = onnx.Shape %a : (tensor<?x4xf32>) -> tensor<*xi64>
  %sb = onnx.Shape %b : (tensor<?x4xf32>) -> tensor<*xi64>
  %sc = onnx.Shape %c : (tensor<?x4xf32>) -> tensor<*xi64>
  %sd = onnx.Shape %d : (tensor<?x4xf32>) -> tensor<*xi64>
  %ab = onnx.Sub %sa, %sb : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %0 = onnx.ConstantOfShape %ab : (tensor<*xi64>) -> tensor<*xf32>
  %ac = onnx.Sub %sa, %sc : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %1 = onnx.ConstantOfShape %ac : (tensor<*xi64>) -> tensor<*xf32>
  %dd = onnx.Sub %sd, %sd : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %2 = onnx.ConstantOfShape %dd : (tensor<*xi64>) -> tensor<*xf32>
  %ad = onnx.Sub %sa, %sd : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %3 = onnx.ConstantOfShape %ad : (tensor<*xi64>) -> tensor<*xf32>
  return %0, %1, %2, %3 : tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>
}

// -----

// Shape values flow through Concat/Equal/Where into Reshape and Expand targets.
// CHECK-LABEL: func.func @shape_values(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32>
// CHECK-SAME: -> (tensor<?x?x4x16xf32>, tensor<?x?x64xf32>, tensor<i64>, tensor<?x?x67xf32>)
// CHECK: %[[S:.*]] = onnx.Shape %[[X]] {end = 2 : i64} : (tensor<?x?x64xf32>) -> tensor<2xi64>
// CHECK: %[[HEADS:.*]] = onnx.Constant {value = dense<[4, 16]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: %[[T:.*]] = onnx.Concat %[[S]], %[[HEADS]] {axis = 0 : i64} : (tensor<2xi64>, tensor<2xi64>) -> tensor<4xi64>
// CHECK: onnx.Reshape %[[X]], %[[T]] : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x4x16xf32>
// CHECK: %[[NEG:.*]] = onnx.Constant {value = dense<[-1, 1, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
// CHECK: %[[M1:.*]] = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
// CHECK: %[[IS:.*]] = onnx.Equal %[[NEG]], %[[M1]] : (tensor<3xi64>, tensor<i64>) -> tensor<3xi1>
// CHECK: %[[FULL:.*]] = onnx.Shape %[[X]] : (tensor<?x?x64xf32>) -> tensor<3xi64>
// CHECK: %[[TARGET:.*]] = onnx.Where %[[IS]], %[[FULL]], %[[NEG]] : (tensor<3xi1>, tensor<3xi64>, tensor<3xi64>) -> tensor<3xi64>
// CHECK: onnx.Expand %[[X]], %[[TARGET]] : (tensor<?x?x64xf32>, tensor<3xi64>) -> tensor<?x?x64xf32>
// CHECK: onnx.Size %[[X]] : (tensor<?x?x64xf32>) -> tensor<i64>
// CHECK: %[[PADS:.*]] = onnx.Constant {value = dense<[0, 0, 1, 0, 0, 2]> : tensor<6xi64>} : () -> tensor<6xi64>
// CHECK: onnx.Pad %[[X]], %[[PADS]] : (tensor<?x?x64xf32>, tensor<6xi64>) -> tensor<?x?x67xf32>
func.func @shape_values(%x: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xi64>, tensor<*xf32>) {
  %s = onnx.Shape %x {end = 2 : i64} : (tensor<?x?x64xf32>) -> tensor<*xi64>
  %heads = onnx.Constant {value = dense<[4, 16]> : tensor<2xi64>} : () -> tensor<2xi64>
  %t = onnx.Concat %s, %heads {axis = 0 : i64} : (tensor<*xi64>, tensor<2xi64>) -> tensor<*xi64>
  %0 = onnx.Reshape %x, %t : (tensor<?x?x64xf32>, tensor<*xi64>) -> tensor<*xf32>
  %neg = onnx.Constant {value = dense<[-1, 1, 1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %m1 = onnx.Constant {value = dense<-1> : tensor<i64>} : () -> tensor<i64>
  %is = onnx.Equal %neg, %m1 : (tensor<3xi64>, tensor<i64>) -> tensor<*xi1>
  %full = onnx.Shape %x : (tensor<?x?x64xf32>) -> tensor<*xi64>
  %target = onnx.Where %is, %full, %neg : (tensor<*xi1>, tensor<*xi64>, tensor<3xi64>) -> tensor<*xi64>
  %1 = onnx.Expand %x, %target : (tensor<?x?x64xf32>, tensor<*xi64>) -> tensor<*xf32>
  %2 = onnx.Size %x : (tensor<?x?x64xf32>) -> tensor<*xi64>
  %pads = onnx.Constant {value = dense<[0, 0, 1, 0, 0, 2]> : tensor<6xi64>} : () -> tensor<6xi64>
  %3 = onnx.Pad %x, %pads : (tensor<?x?x64xf32>, tensor<6xi64>) -> tensor<*xf32>
  return %0, %1, %2, %3 : tensor<*xf32>, tensor<*xf32>, tensor<*xi64>, tensor<*xf32>
}

// -----

// CHECK-LABEL: func.func @misc(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x4xf32>
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<5x2xi64>
// CHECK-SAME: %[[Y:[a-z0-9]+]]: tensor<?x1xf32>
// CHECK-SAME: -> (tensor<2x12xf32>, tensor<?x3xf32>, tensor<2x3x4xi64>, tensor<5x4xf32>, tensor<1x1xf32>, tensor<2x1x1xf32>, tensor<2x3x4xi1>, tensor<2x3x4xf32>)
// CHECK: onnx.Flatten %[[X]] {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<2x12xf32>
// CHECK: %[[REPS:.*]] = onnx.Constant {value = dense<[1, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
// CHECK: onnx.Tile %[[Y]], %[[REPS]] : (tensor<?x1xf32>, tensor<2xi64>) -> tensor<?x3xf32>
// CHECK: onnx.Cast %[[X]] {to = 7 : i64} : (tensor<2x3x4xf32>) -> tensor<2x3x4xi64>
// CHECK: onnx.GatherND %[[X]], %[[IDS]] : (tensor<2x3x4xf32>, tensor<5x2xi64>) -> tensor<5x4xf32>
// CHECK: onnx.Gemm %[[Y]], %[[Y]] {transA = 1 : i64} : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<1x1xf32>
// CHECK: onnx.LayerNormalization %[[X]], %[[X]] {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x1x1xf32>, tensor<2x1x1xf32>)
// CHECK: onnx.Dropout %[[X]] : (tensor<2x3x4xf32>) -> (tensor<2x3x4xf32>, tensor<2x3x4xi1>)
func.func @misc(%x: tensor<2x3x4xf32>, %ids: tensor<5x2xi64>, %y: tensor<?x1xf32> {onnx.dim_params = ["n", ""]})
    -> (tensor<*xf32>, tensor<*xf32>, tensor<*xi64>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi1>, tensor<*xf32>) {
  %0 = onnx.Flatten %x {axis = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<*xf32>
  %reps = onnx.Constant {value = dense<[1, 3]> : tensor<2xi64>} : () -> tensor<2xi64>
  %1 = onnx.Tile %y, %reps : (tensor<?x1xf32>, tensor<2xi64>) -> tensor<*xf32>
  %2 = onnx.Cast %x {to = 7 : i64} : (tensor<2x3x4xf32>) -> tensor<*xi64>
  %3 = onnx.GatherND %x, %ids : (tensor<2x3x4xf32>, tensor<5x2xi64>) -> tensor<*xf32>
  %4 = onnx.Gemm %y, %y {transA = 1 : i64} : (tensor<?x1xf32>, tensor<?x1xf32>) -> tensor<*xf32>
  %5:3 = onnx.LayerNormalization %x, %x {axis = 1 : i64} : (tensor<2x3x4xf32>, tensor<2x3x4xf32>) -> (tensor<*xf32>, tensor<*xf32>, tensor<*xf32>)
  %6:2 = onnx.Dropout %x : (tensor<2x3x4xf32>) -> (tensor<*xf32>, tensor<*xi1>)
  return %0, %1, %2, %3, %4, %5#1, %6#1, %6#0 : tensor<*xf32>, tensor<*xf32>, tensor<*xi64>, tensor<*xf32>, tensor<*xf32>, tensor<*xf32>, tensor<*xi1>, tensor<*xf32>
}
