#!/usr/bin/env python3
"""Runs a checker of the runtime's API on packages compiled from a fixture.

usage: package_api_check.py RESA_COMPILE FIXTURES_DIR (capi|concurrency|capacity) CHECKER
  capi         resa-capi-check on a GSR package (ReSA attention), a plain one,
               and a copy of the GSR package whose plan fails its checksum
  concurrency  resa-concurrency-check on the GSR package
  capacity     resa-capacity-check on the GSR package
RESA_COMPILE may come from another build (a sanitizer build has no compiler).
"""
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    compile_, fixtures, check, checker = sys.argv[1:5]
    model = os.path.join(fixtures, "models", "llama-eager-op18.onnx")
    tokenizer = os.path.join(fixtures, "tokenizers", "bpe300.json")
    with tempfile.TemporaryDirectory() as work:
        gsr = os.path.join(work, "gsr.resa")
        subprocess.run([compile_, "--quiet", model, "-o", gsr, "--pipeline=gsr",
                        "--gsr-candidates=3", "--gsr-max-tokens=12", "--attention=resa"],
                       check=True)
        argv = [checker, gsr, tokenizer]
        if check == "capi":
            plain = os.path.join(work, "plain.resa")
            subprocess.run([compile_, "--quiet", model, "-o", plain], check=True)
            corrupt = os.path.join(work, "corrupt.resa")
            shutil.copytree(gsr, corrupt)
            plan = os.path.join(corrupt, "plan.pb")
            data = open(plan, "rb").read()
            # One letter of the producer string: the plan still parses.
            open(plan, "wb").write(data.replace(b"resa-compile", b"resa-compilE", 1))
            argv += [plain, corrupt]
        return subprocess.run(argv).returncode


if __name__ == "__main__":
    sys.exit(main())
