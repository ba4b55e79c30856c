// Shape folding: exporters' Shape/Gather/Unsqueeze/Concat arithmetic becomes onnx.Constant or resa.shape_expr; dead ops go.
// RUN: resa-opt %s --split-input-file --resa-fold-shapes | FileCheck %s

// A static Shape -> Gather -> Unsqueeze -> Concat chain folds to one constant
// target; the chain is erased.
// CHECK-LABEL: func.func @static_chain(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<2x3x8xf32>) -> tensor<2x3x2x4xf32>
// CHECK-NEXT: %[[T:.*]] = onnx.Constant {value = dense<[2, 3, 2, 4]> : tensor<4xi64>} : () -> tensor<4xi64>
// CHECK-NEXT: %[[R:.*]] = onnx.Reshape %[[X]], %[[T]] : (tensor<2x3x8xf32>, tensor<4xi64>) -> tensor<2x3x2x4xf32>
// CHECK-NEXT: return %[[R]] : tensor<2x3x2x4xf32>
func.func @static_chain(%x: tensor<2x3x8xf32>) -> tensor<*xf32> {
  %s = onnx.Shape %x : (tensor<2x3x8xf32>) -> tensor<*xi64>
  %i0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %i1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %d0 = onnx.Gather %s, %i0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %d1 = onnx.Gather %s, %i1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %ax = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %u0 = onnx.Unsqueeze %d0, %ax : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %u1 = onnx.Unsqueeze %d1, %ax : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m = onnx.Constant {value = dense<[2, 4]> : tensor<2xi64>} : () -> tensor<2xi64>
  %t = onnx.Concat %u0, %u1, %m {axis = 0 : i64} : (tensor<*xi64>, tensor<*xi64>, tensor<2xi64>) -> tensor<*xi64>
  %r = onnx.Reshape %x, %t : (tensor<2x3x8xf32>, tensor<*xi64>) -> tensor<*xf32>
  return %r : tensor<*xf32>
}

// -----

// The same chain over symbolic dims folds to a shape expression.
// CHECK-LABEL: func.func @symbolic_chain(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]}) -> tensor<?x?x4x16xf32>
// CHECK-NEXT: %[[T:.*]] = resa.shape_expr ["batch", "seq", "4", "16"] : tensor<4xi64>
// CHECK-NEXT: %[[R:.*]] = onnx.Reshape %[[X]], %[[T]] : (tensor<?x?x64xf32>, tensor<4xi64>) -> tensor<?x?x4x16xf32>
// CHECK-NEXT: return %[[R]]
func.func @symbolic_chain(%x: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]}) -> tensor<*xf32> {
  %s = onnx.Shape %x : (tensor<?x?x64xf32>) -> tensor<*xi64>
  %i0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %i1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %d0 = onnx.Gather %s, %i0 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %d1 = onnx.Gather %s, %i1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %ax = onnx.Constant {value = dense<0> : tensor<1xi64>} : () -> tensor<1xi64>
  %u0 = onnx.Unsqueeze %d0, %ax : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %u1 = onnx.Unsqueeze %d1, %ax : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %m = onnx.Constant {value = dense<[4, 16]> : tensor<2xi64>} : () -> tensor<2xi64>
  %t = onnx.Concat %u0, %u1, %m {axis = 0 : i64} : (tensor<*xi64>, tensor<*xi64>, tensor<2xi64>) -> tensor<*xi64>
  %r = onnx.Reshape %x, %t : (tensor<?x?x64xf32>, tensor<*xi64>) -> tensor<*xf32>
  return %r : tensor<*xf32>
}

// -----

// Integer arithmetic on shape values gives polynomials of the symbols.
// CHECK-LABEL: func.func @arith(
// CHECK-SAME: -> (tensor<1xi64>, tensor<1xi64>, tensor<1xi64>, tensor<3xi64>)
// CHECK-NOT: onnx.
// CHECK: %[[A:.*]] = resa.shape_expr ["seq + 1"] : tensor<1xi64>
// CHECK-NEXT: %[[B:.*]] = resa.shape_expr ["past + seq"] : tensor<1xi64>
// CHECK-NEXT: %[[C:.*]] = resa.shape_expr ["64*batch*seq"] : tensor<1xi64>
// CHECK-NEXT: %[[D:.*]] = resa.shape_expr ["batch*batch", "seq*seq", "4096"] : tensor<3xi64>
// CHECK-NEXT: return %[[A]], %[[B]], %[[C]], %[[D]]
func.func @arith(%x: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]},
                 %p: tensor<?x4x?x16xf32> {onnx.dim_params = ["batch", "", "past", ""]})
    -> (tensor<*xi64>, tensor<*xi64>, tensor<*xi64>, tensor<*xi64>) {
  %s = onnx.Shape %x : (tensor<?x?x64xf32>) -> tensor<*xi64>
  %ps = onnx.Shape %p {start = 2 : i64, end = 3 : i64} : (tensor<?x4x?x16xf32>) -> tensor<*xi64>
  %i1 = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %seq = onnx.Gather %s, %i1 {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %one = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %0 = onnx.Add %seq, %one : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %1 = onnx.Add %ps, %seq : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  %2 = onnx.ReduceProd %s {keepdims = 1 : i64} : (tensor<*xi64>) -> tensor<*xi64>
  %3 = onnx.Mul %s, %s : (tensor<*xi64>, tensor<*xi64>) -> tensor<*xi64>
  return %0, %1, %2, %3 : tensor<*xi64>, tensor<*xi64>, tensor<*xi64>, tensor<*xi64>
}

// -----

// A scalar shape value folds to a rank-0 shape_expr; Range up to it keeps a
// '?' length, Range with constant bounds folds to its values.
// CHECK-LABEL: func.func @range(
// CHECK-SAME: -> (tensor<?xi64>, tensor<5xi64>)
// CHECK-DAG: %[[ONE:.*]] = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
// CHECK-DAG: %[[ZERO:.*]] = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
// CHECK-DAG: %[[SEQ:.*]] = resa.shape_expr ["seq"] {scalar} : tensor<i64>
// CHECK: %[[R:.*]] = onnx.Range %[[ZERO]], %[[SEQ]], %[[ONE]] : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<?xi64>
// CHECK-NEXT: %[[C:.*]] = onnx.Constant {value = dense<[0, 1, 2, 3, 4]> : tensor<5xi64>} : () -> tensor<5xi64>
// CHECK-NEXT: return %[[R]], %[[C]]
func.func @range(%x: tensor<?x?xi64> {onnx.dim_params = ["batch", "seq"]}) -> (tensor<*xi64>, tensor<*xi64>) {
  %s = onnx.Shape %x : (tensor<?x?xi64>) -> tensor<*xi64>
  %i1 = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %i0 = onnx.Constant {value = dense<0> : tensor<i64>} : () -> tensor<i64>
  %seq = onnx.Gather %s, %i1 {axis = 0 : i64} : (tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %0 = onnx.Range %i0, %seq, %i1 : (tensor<i64>, tensor<*xi64>, tensor<i64>) -> tensor<*xi64>
  %five = onnx.Constant {value = dense<5> : tensor<i64>} : () -> tensor<i64>
  %1 = onnx.Range %i0, %five, %i1 : (tensor<i64>, tensor<i64>, tensor<i64>) -> tensor<*xi64>
  return %0, %1 : tensor<*xi64>, tensor<*xi64>
}

// -----

// Equal/Where over shape values (the exporters' "-1 means keep" idiom) fold
// into the Expand target.
// CHECK-LABEL: func.func @expand_where(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x1x64xf32>
// CHECK-NEXT: %[[T:.*]] = resa.shape_expr ["batch", "1", "64"] : tensor<3xi64>
// CHECK-NEXT: onnx.Expand %[[X]], %[[T]] : (tensor<?x1x64xf32>, tensor<3xi64>) -> tensor<?x1x64xf32>
// CHECK-NOT: onnx.Where
func.func @expand_where(%x: tensor<?x1x64xf32> {onnx.dim_params = ["batch", "", ""]},
                        %y: tensor<?x?x64xf32> {onnx.dim_params = ["batch", "seq", ""]}) -> tensor<*xf32> {
  %sy = onnx.Shape %y : (tensor<?x?x64xf32>) -> tensor<*xi64>
  %neg = onnx.Constant {value = dense<[-1, -1, -1]> : tensor<3xi64>} : () -> tensor<3xi64>
  %target = onnx.Constant {value = dense<[-1, 1, 64]> : tensor<3xi64>} : () -> tensor<3xi64>
  %is = onnx.Equal %target, %neg : (tensor<3xi64>, tensor<3xi64>) -> tensor<*xi1>
  %pick = onnx.Where %is, %sy, %target : (tensor<*xi1>, tensor<*xi64>, tensor<3xi64>) -> tensor<*xi64>
  %0 = onnx.Expand %x, %pick : (tensor<?x1x64xf32>, tensor<*xi64>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// Shape ops whose results nobody uses are erased.
// CHECK-LABEL: func.func @dead(
// CHECK-NOT: onnx.Shape
// CHECK-NOT: onnx.Concat
// CHECK-NOT: onnx.Constant
// CHECK: onnx.Relu
func.func @dead(%x: tensor<?x8xf32> {onnx.dim_params = ["n", ""]}) -> tensor<*xf32> {
  %s = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<*xi64>
  %c = onnx.Constant {value = dense<1> : tensor<1xi64>} : () -> tensor<1xi64>
  %unused = onnx.Concat %s, %c {axis = 0 : i64} : (tensor<*xi64>, tensor<1xi64>) -> tensor<*xi64>
  %0 = onnx.Relu %x : (tensor<?x8xf32>) -> tensor<*xf32>
  return %0 : tensor<*xf32>
}

// -----

// Float data is never folded, even when constant.
// CHECK-LABEL: func.func @float_constants(
// CHECK: %[[A:.*]] = onnx.Constant {value = dense<[1.000000e+00, 2.000000e+00]> : tensor<2xf32>}
// CHECK: %[[B:.*]] = onnx.Constant {value = dense<[3.000000e+00, 4.000000e+00]> : tensor<2xf32>}
// CHECK: %[[S:.*]] = onnx.Add %[[A]], %[[B]] : (tensor<2xf32>, tensor<2xf32>) -> tensor<2xf32>
// CHECK: onnx.Mul %[[S]]
func.func @float_constants(%x: tensor<2xf32>) -> tensor<*xf32> {
  %a = onnx.Constant {value = dense<[1.0, 2.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %b = onnx.Constant {value = dense<[3.0, 4.0]> : tensor<2xf32>} : () -> tensor<2xf32>
  %0 = onnx.Add %a, %b : (tensor<2xf32>, tensor<2xf32>) -> tensor<*xf32>
  %1 = onnx.Mul %0, %x : (tensor<*xf32>, tensor<2xf32>) -> tensor<*xf32>
  return %1 : tensor<*xf32>
}

// -----

// Unknown values stay: integer data from arguments, a Reshape to a runtime
// target, and symbolic values in a non-i64 type. A Shape feeding a float Cast
// still folds, the Cast stays.
// CHECK-LABEL: func.func @no_fold(
// CHECK-SAME: %[[X:[a-z0-9]+]]: tensor<?x8xf32>
// CHECK-SAME: %[[IDS:[a-z0-9]+]]: tensor<3xi64>
// CHECK: %[[ONE:.*]] = onnx.Constant {value = dense<1> : tensor<i64>}
// CHECK: onnx.Add %[[IDS]], %[[ONE]] : (tensor<3xi64>, tensor<i64>) -> tensor<3xi64>
// CHECK: %[[S:.*]] = resa.shape_expr ["n", "8"] : tensor<2xi64>
// CHECK: onnx.Cast %[[S]] {to = 1 : i64} : (tensor<2xi64>) -> tensor<2xf32>
// CHECK: onnx.Cast %[[S]] {to = 6 : i64} : (tensor<2xi64>) -> tensor<2xi32>
// CHECK: onnx.Reshape %[[X]], %[[IDS]] : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<?x?x?xf32>
func.func @no_fold(%x: tensor<?x8xf32> {onnx.dim_params = ["n", ""]}, %ids: tensor<3xi64>)
    -> (tensor<*xi64>, tensor<*xf32>, tensor<*xi32>, tensor<*xf32>) {
  %one = onnx.Constant {value = dense<1> : tensor<i64>} : () -> tensor<i64>
  %0 = onnx.Add %ids, %one : (tensor<3xi64>, tensor<i64>) -> tensor<*xi64>
  %s = onnx.Shape %x : (tensor<?x8xf32>) -> tensor<*xi64>
  %1 = onnx.Cast %s {to = 1 : i64} : (tensor<*xi64>) -> tensor<*xf32>
  %2 = onnx.Cast %s {to = 6 : i64} : (tensor<*xi64>) -> tensor<*xi32>
  %3 = onnx.Reshape %x, %ids : (tensor<?x8xf32>, tensor<3xi64>) -> tensor<*xf32>
  return %0, %1, %2, %3 : tensor<*xi64>, tensor<*xf32>, tensor<*xi32>, tensor<*xf32>
}

// -----

// Raised layer ops keep their input's leading dims (an embedding all of its
// ids' dims), so Shapes read off two layers' outputs fold to the same
// expression: the per-layer rotary positions that raising GroupQueryAttention
// builds become one computation after CSE (shared-positions.mlir).
// (The layer ops, pure and now unused, go.)
// CHECK-LABEL: func.func @layer_op_shapes(
// CHECK-SAME: -> (tensor<2xi64>, tensor<2xi64>)
// CHECK-NEXT: %[[S0:.*]] = resa.shape_expr ["b", "s"] : tensor<2xi64>
// CHECK-NEXT: %[[S1:.*]] = resa.shape_expr ["b", "s"] : tensor<2xi64>
// CHECK-NEXT: return %[[S0]], %[[S1]]
func.func @layer_op_shapes(%ids: tensor<?x?xi64> {onnx.dim_params = ["b", "s"]}, %table: tensor<10x8xf32>, %w: tensor<8x16xf32>, %g: tensor<16xf32>, %w2: tensor<16x4xf32>) -> (tensor<*xi64>, tensor<*xi64>) {
  %e = resa.embedding %table, %ids : (tensor<10x8xf32>, tensor<?x?xi64>) -> tensor<?x?x8xf32>
  %q0 = resa.linear %e, %w : (tensor<?x?x8xf32>, tensor<8x16xf32>) -> tensor<?x?x16xf32>
  %n = resa.rms_norm %q0, %g {epsilon = 1.0e-5 : f32} : (tensor<?x?x16xf32>, tensor<16xf32>) -> tensor<?x?x16xf32>
  %q1 = resa.linear %n, %w2 : (tensor<?x?x16xf32>, tensor<16x4xf32>) -> tensor<?x?x4xf32>
  %s0 = onnx.Shape %q0 {end = 2 : i64} : (tensor<?x?x16xf32>) -> tensor<*xi64>
  %s1 = onnx.Shape %q1 {end = 2 : i64} : (tensor<?x?x4xf32>) -> tensor<*xi64>
  return %s0, %s1 : tensor<*xi64>, tensor<*xi64>
}
