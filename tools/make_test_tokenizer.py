#!/usr/bin/env python3
"""Writes test/fixtures/tokenizers/bpe300.json: a byte-level BPE whose 300 ids
fit the test models' vocabulary (300), so that text can go through them.
usage: python3 tools/make_test_tokenizer.py [OUT.json]   (needs `tokenizers`)
"""
import sys

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

out = sys.argv[1] if len(sys.argv) > 1 else "test/fixtures/tokenizers/bpe300.json"
corpus = [
    "Problem: a = 3, b = 4. What is a + b? Answer: 7",
    "Let x = 12 and y = 30. Then x + y = 42. Answer: 42",
    "Candidate solutions may be wrong; check them step by step.",
    "The quick brown fox jumps over the lazy dog. 0123456789",
] * 20
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=300, special_tokens=["<|endoftext|>"],
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(corpus, trainer)
assert tok.get_vocab_size() <= 300, tok.get_vocab_size()
tok.save(out)
print(f"wrote {out}: {tok.get_vocab_size()} tokens")
