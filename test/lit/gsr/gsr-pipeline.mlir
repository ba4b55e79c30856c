// resa-gsr-pipeline: its options land in resa.gsr_pipeline; invalid values are refused.
// RUN: resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline)' | FileCheck %s --check-prefix=DEFAULT
// RUN: resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{candidates=8 candidate-temperature=0.5 candidate-top-p=0.9 candidate-max-tokens=64 refine-temperature=0.25 refine-top-p=0.75 refine-max-tokens=32 stop=END,STOP answer=boxed})' | FileCheck %s --check-prefix=SET
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{candidates=0})' 2>&1 | FileCheck %s --check-prefix=ZERO
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{answer=first-number})' 2>&1 | FileCheck %s --check-prefix=RULE
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{candidate-top-p=0})' 2>&1 | FileCheck %s --check-prefix=TOPP
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{refine-max-tokens=0})' 2>&1 | FileCheck %s --check-prefix=MAXTOK
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{template=%S/Inputs/no-candidates.txt})' 2>&1 | FileCheck %s --check-prefix=PLACEHOLDER
// RUN: not resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{template=%S/Inputs/missing.txt})' 2>&1 | FileCheck %s --check-prefix=MISSING
// RUN: resa-opt %s --pass-pipeline='builtin.module(resa-gsr-pipeline{template=%S/Inputs/short.txt})' | FileCheck %s --check-prefix=FILE

// A KV-cache program's shell: the pipeline needs @prefill and @decode.
module {
  func.func @prefill() { return }
  func.func @decode() { return }
}

// DEFAULT: resa.gsr_pipeline {answer = "last-number", candidate_max_tokens = 256 : i64, candidate_temperature = 8.000000e-01 : f32, candidate_top_p = 0.949999988 : f32, candidates = 4 : i64, refine_max_tokens = 256 : i64, refine_temperature = 0.000000e+00 : f32, refine_template = "{problem}\0A\0AHere are {n} candidate solutions to the problem above:{{.*}}", refine_top_p = 1.000000e+00 : f32, stop = []}
// SET: resa.gsr_pipeline {answer = "boxed", candidate_max_tokens = 64 : i64, candidate_temperature = 5.000000e-01 : f32, candidate_top_p = 0.899999976 : f32, candidates = 8 : i64, refine_max_tokens = 32 : i64, refine_temperature = 2.500000e-01 : f32, {{.*}}refine_top_p = 7.500000e-01 : f32, stop = ["END", "STOP"]}
// ZERO: error: 'resa.gsr_pipeline' op needs at least one candidate, got 0
// RULE: error: 'resa.gsr_pipeline' op answer rule must be last-number, boxed or after:<marker>, got 'first-number'
// TOPP: error: 'resa.gsr_pipeline' op candidate top-p must be in (0, 1]
// MAXTOK: error: 'resa.gsr_pipeline' op refinement max tokens must be >= 1, got 0
// PLACEHOLDER: error: 'resa.gsr_pipeline' op the refinement template lacks the placeholder {candidates}
// MISSING: error: cannot read the refinement template '{{.*}}missing.txt'
// FILE: refine_template = "Solve: {problem}\0AOthers said:\0A{candidates}\0A"

