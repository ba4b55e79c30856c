"""The task model's tokens, without torch (the CPU checks import it): the
reference tokenizer, what the runtime prefills, and a training example's ids
with the kind and line of each target token."""
import os

import task

HERE = os.path.dirname(os.path.abspath(__file__))
TOKENIZER = os.path.join(HERE, "tokenizer.json")
OTHER = 1  # target token kinds; task.LOOKUP and task.RESULT are the values


class TaskTokenizer:
    """The `tokenizers` reference implementation of tools/train/tokenizer.json
    (resa-tokenize gives the same ids: test/e2e/task_tokenizer_check.py)."""

    def __init__(self, path=TOKENIZER):
        from tokenizers import Tokenizer
        self.tok = Tokenizer.from_file(path)
        self.bos = self.tok.token_to_id("<s>")
        self.eos = self.tok.token_to_id("</s>")
        self.pad = self.tok.token_to_id("<pad>")
        self.vocab_size = self.tok.get_vocab_size(with_added_tokens=True)

    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids

    def encode_offsets(self, text):
        e = self.tok.encode(text, add_special_tokens=False)
        return e.ids, e.offsets

    def decode(self, ids):
        return self.tok.decode(list(ids), skip_special_tokens=True)


def prompt_ids(tok, text):
    """What the runtime prefills: encode(text, addSpecial) = <s> + text."""
    return [tok.bos] + tok.encode(text)


def example(tok, prompt_text, solution):
    """(ids, number of prompt tokens, kinds, lines): the kind (OTHER,
    task.LOOKUP, task.RESULT) and the line number of each target token
    (</s> counts as part of the last line)."""
    prompt = prompt_ids(tok, prompt_text)
    ids, offsets = tok.encode_offsets(solution)
    # A value is the token where its first digit lies: the token may start
    # before it (" = 23" is one token: build_tokenizer.py).
    value_kind = {start: kind for start, _, kind in task.value_spans(solution)}
    kinds = [next((value_kind[c] for c in range(start, end) if c in value_kind), OTHER)
             for start, end in offsets] + [OTHER]
    lines = [solution.count("\n", 0, start) for start, _ in offsets]
    lines.append(lines[-1] if lines else 0)
    return prompt + ids + [tok.eos], len(prompt), kinds, lines
