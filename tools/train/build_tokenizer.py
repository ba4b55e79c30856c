#!/usr/bin/env python3
"""Builds the task model's tokenizer (tokenizer.json + tokenizer_config.json)
deterministically, with the standard library only.

    python3 tools/train/build_tokenizer.py [--out tools/train]

Hugging Face format, in the subset that both the `tokenizers` package and
resa's runtime tokenizer (runtime/src/tokenizer) implement exactly:
  - pre-tokenizer: Split on ` = [0-9][0-9]?|[0-9][0-9]?|[A-Za-z]+|[^0-9A-Za-z]`
    (Isolated), then ByteLevel without regex or prefix space. Numbers become
    runs of two-digit pieces ("4178" -> "41" "78"), so every value of the task
    (0..96) is one token and a key k4178 is "k" "41" "78"; " = " and the
    number after it are one piece (" = 23"), so that a value comes right
    after its key ("k" "41" "78" " = 23"): a lookup is then a plain induction
    head (the value follows the key's last token), which a small model learns
    many times faster than across the three tokens " " "=" " " (see
    README.md); every other character is a piece of its own;
  - model: BPE with no merges and ignore_merges, i.e. a word-level lookup: a
    piece in the vocabulary is one token, any other piece falls back to its
    bytes (all 256 are in the vocabulary, so nothing is ever lost);
  - vocabulary: <pad> <s> </s>, the 256 byte-level characters, the 100
    two-digit pieces, every word of the task text and of the refinement
    template (data/gsr/refine-template.txt), and the 110 pieces " = 0" ..
    " = 9", " = 00" .. " = 99";
  - post-processor: TemplateProcessing "<s> $A" (the runtime takes BOS from
    it); tokenizer_config.json names </s> as EOS, which ends a solution.
"""
import argparse
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gsr_format  # noqa: E402
import task  # noqa: E402

SPECIALS = ["<pad>", "<s>", "</s>"]
PAD, BOS, EOS = SPECIALS
SPLIT_PATTERN = r" = [0-9][0-9]?|[0-9][0-9]?|[A-Za-z]+|[^0-9A-Za-z]"


def bytes_to_unicode():
    """GPT-2's byte -> printable character map (the ByteLevel alphabet)."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def vocabulary_words():
    """The letter runs of the task's texts, in first-seen order: a problem and
    its solution, the refinement template and the runtime's candidate label."""
    texts = []
    for i in range(4):
        e = task.make_problem("train", i)
        texts += [e["problem"], e["solution"]]
    texts += [gsr_format.read_template(), "Candidate 1:"]
    words = []
    for text in texts:
        for w in re.findall(r"[A-Za-z]+", text):
            if len(w) > 1 and w not in words:
                words.append(w)
    return words


def build():
    to_chars = bytes_to_unicode()
    byte_chars = [to_chars[b] for b in range(256)]
    assigned = [" = " + str(i) for i in range(10)] + [f" = {i:02d}" for i in range(100)]
    pieces = (SPECIALS + byte_chars + [f"{i:02d}" for i in range(100)] + vocabulary_words() +
              ["".join(to_chars[b] for b in p.encode()) for p in assigned])
    assert len(set(pieces)) == len(pieces), "duplicate vocabulary entries"
    vocab = {p: i for i, p in enumerate(pieces)}
    added = [{"id": vocab[s], "content": s, "single_word": False, "lstrip": False,
              "rstrip": False, "normalized": False, "special": True} for s in SPECIALS]
    tokenizer = {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": SPLIT_PATTERN}, "behavior": "Isolated",
             "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
             "use_regex": False}]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                       {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {BOS: {"id": BOS, "ids": [vocab[BOS]], "tokens": [BOS]}}},
        "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False,
                    "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": True,
                  "vocab": vocab, "merges": []},
    }
    config = {"bos_token": BOS, "eos_token": EOS, "pad_token": PAD,
              "model_max_length": 8192, "tokenizer_class": "PreTrainedTokenizerFast"}
    return tokenizer, config


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, indent=1) + "\n"


def write(out):
    tokenizer, config = build()
    os.makedirs(out, exist_ok=True)
    paths = []
    for name, obj in (("tokenizer.json", tokenizer), ("tokenizer_config.json", config)):
        path = os.path.join(out, name)
        with open(path, "w", encoding="utf-8", newline="\n") as f:
            f.write(dumps(obj))
        paths.append(path)
    return paths


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=HERE, help="folder for tokenizer.json and "
                    "tokenizer_config.json (default: tools/train)")
    args = ap.parse_args()
    for path in write(args.out):
        print(f"wrote {path}")
    print(f"vocabulary: {len(build()[0]['model']['vocab'])} tokens")


if __name__ == "__main__":
    main()
