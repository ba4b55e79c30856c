#!/usr/bin/env python3
"""The bundled task model (models/task, tools/train/README.md) end to end on
the CPU: its files as scripts/demo.sh reads them, at most 25 MB, compiled
dense and decoded greedily (exact fp32) on the default problem (test problem
0: 800 bindings, 4K tokens), whose trace must end in the generator's answer.
Guards the importer, the compiler, the runtime and the tokenizer together on
the one model that was trained rather than made up (about a minute).

usage: task_model_check.py BIN_DIR REPO_ROOT
"""
import os
import re
import subprocess
import sys
import tempfile


def main():
    bin_dir, root = sys.argv[1], sys.argv[2]
    bundle = os.path.join(root, "models", "task")
    for name in ("model.onnx", "tokenizer.json", "tokenizer_config.json", "refine-template.txt",
                 "MANIFEST.json"):
        if not os.path.isfile(os.path.join(bundle, name)):
            sys.exit(f"FAIL: {bundle}/{name} is missing")
    size = sum(os.path.getsize(os.path.join(bundle, f)) for f in os.listdir(bundle))
    if size > 25_000_000:
        sys.exit(f"FAIL: {bundle} holds {size} bytes, over the 25 MB the bundle may take")
    sys.path.insert(0, os.path.join(root, "tools", "train"))
    import task
    problem = task.make_problem("test", 0)
    with tempfile.TemporaryDirectory() as tmp:
        pkg = os.path.join(tmp, "task.resa")
        subprocess.run([os.path.join(bin_dir, "resa-compile"), os.path.join(bundle, "model.onnx"),
                        "-o", pkg, "--quiet", "--attention=dense"], check=True)
        run = subprocess.run([os.path.join(bin_dir, "resa-run"), pkg, "--device", "cpu",
                              "--tokenizer", bundle, "--prompt", problem["problem"],
                              "--max-new-tokens", "400"],
                             check=True, capture_output=True, text=True)
    answers = re.findall(r"^Answer: (\d+)", run.stdout, re.M)
    if answers[-1:] != [problem["answer"]]:
        sys.exit(f"FAIL: the dense greedy trace answers {answers or 'nothing'}, the problem's "
                 f"answer is {problem['answer']}; its output:\n{run.stdout[-2000:]}")
    print(f"task model ({size / 1e6:.1f} MB): dense greedy answer {answers[-1]}, right")


if __name__ == "__main__":
    main()
