#!/usr/bin/env python3
"""Prints what scripts/demo.sh's GSR run produced (resa-run --json): each
candidate's answer and trace, the refinement, the final answer against the
task's own. Exit status 0 when the final answer is right.

usage: demo_print.py RESULT.json PROBLEM.json"""
import json
import sys


def main():
    result = json.load(open(sys.argv[1]))
    expected = json.load(open(sys.argv[2]))["answer"]
    for i, c in enumerate(result["candidates"]):
        print(f"\n--- candidate {i + 1}: answer {c.get('answer')!r} ({c.get('tokens')} tokens)")
        print(c.get("text", "").strip())
    print(f"\n--- refinement: answer {result['refinement'].get('answer')!r}")
    print(result["refinement"].get("text", "").strip())
    final = result["answer"]
    verdict = "correct" if str(final) == str(expected) else f"wrong (the answer is {expected})"
    print(f"\ndemo: final answer {final}: {verdict}; majority of the candidates "
          f"{result.get('majority_answer')}, best of them by log-probability "
          f"{result.get('best_of_n_answer')}")
    print(f"demo: prefilled {result.get('prefill_tokens')} tokens, decoded "
          f"{result.get('decode_tokens')}; candidates {result.get('candidate_seconds', 0):.1f} s, "
          f"refinement {result.get('refine_seconds', 0):.1f} s")
    return 0 if str(final) == str(expected) else 1


if __name__ == "__main__":
    sys.exit(main())
