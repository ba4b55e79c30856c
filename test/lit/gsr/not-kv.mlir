// resa-gsr-pipeline refuses a module that is not a KV-cache program.
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline)' 2>&1 | FileCheck %s
// CHECK: error: 'resa.gsr_pipeline' op needs a KV-cache program (no @prefill)
module {
  func.func @main() { return }
}
