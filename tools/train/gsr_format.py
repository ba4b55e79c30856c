"""The text formats the runtime builds, so that training sees exactly what
resa feeds the model (runtime/src/Gsr.cpp is the reference):

- a candidate is generated after `<s>` + the problem text, and ends with
  `</s>`; its text is the decoded tokens without special tokens;
- the refinement prompt is the template (data/gsr/refine-template.txt, read
  verbatim) with {problem}, {n} and {candidates} replaced, each candidate
  listed as "Candidate i:\\n" + its text trimmed of " \\t\\r\\n", the
  candidates joined by a blank line;
- the answer is what follows the last "Answer:" on its line, trimmed
  (resa-compile --gsr-answer='after:Answer:').
"""
import os

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TEMPLATE_PATH = os.path.join(REPO, "data", "gsr", "refine-template.txt")
ANSWER_MARKER = "Answer:"
TRIM = " \t\r\n"


def read_template(path=TEMPLATE_PATH):
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


def build_refine_prompt(template, problem, candidates):
    listed = "\n\n".join(f"Candidate {i + 1}:\n" + c.strip(TRIM) for i, c in enumerate(candidates))
    # {candidates} last, as in Gsr.cpp: candidate texts may contain "{problem}".
    return (template.replace("{problem}", problem).replace("{n}", str(len(candidates)))
            .replace("{candidates}", listed))


def extract_answer(text):
    at = text.rfind(ANSWER_MARKER)
    if at < 0:
        return ""
    return text[at + len(ANSWER_MARKER):].split("\n", 1)[0].strip(TRIM)
