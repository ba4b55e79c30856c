// resa-fuse-multi-linear: a multi_linear whose weights are initializers stored alike gets one resa.concat_columns weight and the widths of its results, its biases kept one per projection; computed weights leave it as it is.
// RUN: resa-opt %s --split-input-file --resa-fuse-multi-linear | FileCheck %s

// CHECK-LABEL: func.func @qkv(
// CHECK-DAG: %[[Q:.*]] = onnx.initializer "q"
// CHECK-DAG: %[[K:.*]] = onnx.initializer "k"
// CHECK-DAG: %[[V:.*]] = onnx.initializer "v"
// CHECK: %[[W:.*]] = resa.concat_columns %[[Q]], %[[K]], %[[V]] : (tensor<8x8xf32>, tensor<8x4xf32>, tensor<8x4xf32>) -> tensor<8x16xf32>
// CHECK-NEXT: %[[M:.*]]:3 = resa.multi_linear %{{.*}}, %[[W]], %[[N:.*]], %[[N]], %[[N]] {widths = array<i64: 8, 4, 4>} : {{.*}} -> (tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>)
// CHECK: return %[[M]]#0, %[[M]]#1, %[[M]]#2
func.func @qkv(%x: tensor<2x3x8xf32>) -> (tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>) {
  %wq = onnx.initializer "q" : tensor<8x8xf32>
  %wk = onnx.initializer "k" : tensor<8x4xf32>
  %wv = onnx.initializer "v" : tensor<8x4xf32>
  %n = resa.none
  %m:3 = resa.multi_linear %x, %wq, %n, %wk, %n, %wv, %n : (tensor<2x3x8xf32>, tensor<8x8xf32>, none, tensor<8x4xf32>, none, tensor<8x4xf32>, none) -> (tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>)
  return %m#0, %m#1, %m#2 : tensor<2x3x8xf32>, tensor<2x3x4xf32>, tensor<2x3x4xf32>
}

// -----

// Biases stay apart, one per projection (Qwen2's k and v biases are
// constants, its q bias an initializer).
// CHECK-LABEL: func.func @bias(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x8xf32>, %[[BK:[a-z0-9]+]]: tensor<4xf32>
// CHECK: %[[W:.*]] = resa.concat_columns %{{.*}}, %{{.*}} : (tensor<8x8xf32>, tensor<8x4xf32>) -> tensor<8x12xf32>
// CHECK-NEXT: resa.multi_linear %[[X]], %[[W]], %{{.*}}, %[[BK]] {widths = array<i64: 8, 4>}
func.func @bias(%x: tensor<2x8xf32>, %bk: tensor<4xf32>) -> (tensor<2x8xf32>, tensor<2x4xf32>) {
  %wq = onnx.initializer "q" : tensor<8x8xf32>
  %wk = onnx.initializer "k" : tensor<8x4xf32>
  %n = resa.none
  %m:2 = resa.multi_linear %x, %wq, %n, %wk, %bk : (tensor<2x8xf32>, tensor<8x8xf32>, none, tensor<8x4xf32>, tensor<4xf32>) -> (tensor<2x8xf32>, tensor<2x4xf32>)
  return %m#0, %m#1 : tensor<2x8xf32>, tensor<2x4xf32>
}

// -----

// A computed weight cannot be stored beside the others.
// CHECK-LABEL: func.func @computed(
// CHECK-NOT: resa.concat_columns
// CHECK-NOT: widths
func.func @computed(%x: tensor<2x8xf32>, %wk: tensor<8x4xf32>) -> (tensor<2x8xf32>, tensor<2x4xf32>) {
  %wq = onnx.initializer "q" : tensor<8x8xf32>
  %n = resa.none
  %m:2 = resa.multi_linear %x, %wq, %n, %wk, %n : (tensor<2x8xf32>, tensor<8x8xf32>, none, tensor<8x4xf32>, none) -> (tensor<2x8xf32>, tensor<2x4xf32>)
  return %m#0, %m#1 : tensor<2x8xf32>, tensor<2x4xf32>
}

// -----

// Weights stored in different types (one kept in f16) stay apart.
// CHECK-LABEL: func.func @stored_apart(
// CHECK-NOT: resa.concat_columns
func.func @stored_apart(%x: tensor<2x8xf32>) -> (tensor<2x8xf32>, tensor<2x4xf32>) {
  %wq = onnx.initializer "q" {stored_type = f16} : tensor<8x8xf32>
  %wk = onnx.initializer "k" : tensor<8x4xf32>
  %n = resa.none
  %m:2 = resa.multi_linear %x, %wq, %n, %wk, %n : (tensor<2x8xf32>, tensor<8x8xf32>, none, tensor<8x4xf32>, none) -> (tensor<2x8xf32>, tensor<2x4xf32>)
  return %m#0, %m#1 : tensor<2x8xf32>, tensor<2x4xf32>
}
