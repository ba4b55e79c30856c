#!/usr/bin/env python3
"""The runtime's tokenizers against the reference Python packages.

Builds small tokenizers at test time in a temporary folder -- byte-level BPE
with `tokenizers` (GPT-2, Llama-3, Qwen2 and GPT-4o style pre-tokenizers,
special and added tokens) and SentencePiece BPE and unigram models with `sentencepiece` --
then encodes a corpus of varied text (Unicode, whitespace runs, digit runs,
contractions, special tokens mid-text, the empty string) through
`resa-tokenize` and through the reference, and checks:
  - exactly the reference's ids, with and without the special framing;
  - decode equal to the reference's decode (skipping special tokens or not),
    also for random id sequences (cut UTF-8, special and out-of-range ids);
  - exact round trip decode(encode(x)) == x (NFC(x) for a tokenizer whose
    normalizer is NFC) where the tokenizer is lossless.
It also checks the committed fixture test/fixtures/tokenizers/ against the
reference, and regenerates it with --write-fixtures.

usage: tokenizer_check.py --driver build/bin/resa-tokenize [--keep DIR]
       tokenizer_check.py --write-fixtures test/fixtures/tokenizers
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import unicodedata

try:
    import sentencepiece as spm
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                            pre_tokenizers, processors, trainers)
except ImportError as e:  # scripts/setup.sh installs them
    sys.exit(f"tokenizer_check: needs the reference packages (pip install tokenizers "
             f"sentencepiece): {e}")

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures", "tokenizers")

GPT2_PATTERN = (r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
# GPT-4o (o200k): case-aware letter runs, an optional contraction group.
O200K_PATTERN = "|".join([
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+"
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*"
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)?",
    r"\p{N}{1,3}", r" ?[^\s\p{L}\p{N}]+[\r\n/]*", r"\s*[\r\n]+", r"\s+(?!\S)", r"\s+"])

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|begin_of_text|>", "<|eot_id|>"]

# ---------------------------------------------------------------------------
# Corpus

WORDS = ("the of and to in is you that it he was for on are as with his they I at be this "
         "have from or one had by word but not what all were we when your can said there use "
         "an each which she do how their if will up other about out many then them these so "
         "some her would make like him into time has look two more write go see number no way "
         "could people my than first water been call who its now find long down day did get "
         "come made may part The When HELLO World Tokenizer").split()
ACCENTED = ["café", "naïve", "résumé", "façade", "über", "straße", "smörgåsbord", "jalapeño",
            "crème", "brûlée", "Ångström", "coöperate", "ÉCOLE", "Œuvre", "Ärger", "ñandú"]
SCRIPTS = ["日本語", "中文", "한국어", "テキスト", "漢字", "東京", "北京", "서울", "ひらがな",
           "שלום", "עולם", "مرحبا", "بالعالم", "سلام", "Привет", "мир", "Γειά", "κόσμε",
           "नमस्ते", "ไทย", "Tiếng", "Việt", "ᏣᎳᎩ"]
EMOJI = ["😀", "👍🏽", "👨\u200d👩\u200d👧\u200d👦", "🇫🇷", "❤️", "🚀", "✨", "🤖", "🎉🎉"]
PUNCT = [".", ",", "!", "?", ";", ":", "...", "--", "(", ")", "[", "]", "{", "}", "\"", "'",
         "`", "@", "#", "$", "%", "^", "&", "*", "+", "=", "<", ">", "/", "\\", "|", "~", "«",
         "»", "—", "“", "”", "¿", "¡", "。", "，", "…"]
CONTRACTIONS = ["it's", "don't", "they're", "we've", "I'm", "you'll", "she'd", "IT'S", "DON'T",
                "THEY'RE", "We'Ve", "I'M", "YOU'LL", "'s", "'t", "'re", "'ll"]
SPACES = [" ", " ", " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "\t\t", "\u00a0",
          "\u3000", " " * 7, "\n   ", "\r", "\u2009", "\u2028", "\x0b", "\x0c"]

FIXED = [
    "",
    " ",
    "  ",
    "\n",
    "\t",
    "Hello, world!",
    "The cat's hat isn't what we'd've thought; they're here, you'll see, I'm sure.",
    "IT'S DON'T THEY'RE WE'VE I'M YOU'LL HE'D",
    "'s 't 're 've 'm 'll 'd",
    "'ſ long s and 'K Kelvin",
    "12345678901234567890",
    "1 12 123 1234 12345 123456 1234567",
    "3.14159 and 1,000,000 and 2024-05-01 and 0x1F",
    "Ⅻ ½ ² ٣٤٥ ૧૨ numbers of other kinds",
    "Café naïve résumé façade",
    "Cafe\u0301 decomposed e\u0301 and a\u0308 o\u0302",
    "Z\u0324\u0354\u0367\u0311\u0313a\u0308\u0356\u032d\u0308\u0307 combining marks",
    "日本語のテキストです。中文文本，还有한국어。",
    "emoji 😀👍🏽 family 👨\u200d👩\u200d👧\u200d👦 flags 🇫🇷🇯🇵 ❤️",
    "שלום עולם مرحبا بالعالم (RTL) mixed with English",
    "tabs\tand\t\ttabs\t",
    "many     spaces   here",
    "trailing spaces   ",
    "   leading spaces",
    "line1\nline2\r\nline3\n\n\nend\n",
    "mixed \t \n \r\n whitespace \n\t ",
    "nbsp\u00a0here\u3000ideographic\u2009thin\u200bzero-width\ufeffbom",
    "\x1c\x1f control \x00 nul \x7f del",
    "<|endoftext|>",
    "text<|endoftext|>more",
    " <|endoftext|> spaced <|endoftext|>",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "<|im_start|><|im_end|><|im_start|>",
    "<|begin_of_text|>Hello<|eot_id|>",
    "almost special <|im_star|> <|endoftext <|endoftext|",
    "code: def f(x):\n    return x**2  # comment\n",
    "URL https://example.com/path?q=1&r=2#frag and email a.b@c.de",
    "hello world <mask> [SEP]   next hello worldly hello world!",
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    " " * 300 + "x",
    "9" * 1000,
    ("The quick brown fox jumps over the lazy dog. " * 60).strip(),
]


def random_line(rng, specials=True):
    parts = []
    for _ in range(rng.randint(1, 30)):
        r = rng.random()
        if r < 0.35:
            parts.append(rng.choice(WORDS))
        elif r < 0.45:
            parts.append(rng.choice(ACCENTED))
        elif r < 0.55:
            parts.append(rng.choice(SCRIPTS))
        elif r < 0.60:
            parts.append(rng.choice(EMOJI))
        elif r < 0.70:
            n = rng.choice([1, 2, 3, 4, 5, 7, 10, 16])
            parts.append("".join(rng.choice("0123456789") for _ in range(n)))
        elif r < 0.80:
            parts.append(rng.choice(PUNCT))
        elif r < 0.88:
            parts.append(rng.choice(CONTRACTIONS))
        elif r < 0.96 or not specials:
            parts.append(rng.choice(SPACES))
        else:
            parts.append(rng.choice(SPECIALS))
        sep = rng.random()
        parts.append(" " if sep < 0.7 else "" if sep < 0.9 else rng.choice(SPACES))
    return "".join(parts)


def corpus(n=400, seed=7):
    rng = random.Random(seed)
    return FIXED + [random_line(rng) for _ in range(n)]


def training_lines(n=4000, seed=1234):
    rng = random.Random(seed)
    lines = [random_line(rng, specials=False) for _ in range(n)]
    lines += [("The quick brown fox jumps over the lazy dog. It's what they'd've said; "
               "we're sure you'll see I'm right. ") * 3] * 50
    return lines


# ---------------------------------------------------------------------------
# Reference tokenizers

def train_bpe(pre_tokenizer, specials, lines, merges=500, ignore_merges=False, normalizer=None):
    tok = Tokenizer(models.BPE(ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=256 + len(specials) + merges, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  special_tokens=specials)
    tok.train_from_iterator(lines, trainer)
    return tok


def build_gpt2(lines):
    tok = train_bpe(pre_tokenizers.ByteLevel(add_prefix_space=False), ["<|endoftext|>"], lines)
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def build_gpt2_flags(lines):
    """GPT-2 style with add_prefix_space and added tokens using lstrip, rstrip,
    single_word and normalized, and a non-ASCII added token."""
    tok = train_bpe(pre_tokenizers.ByteLevel(add_prefix_space=True), ["<|endoftext|>"], lines)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, special=True),
                            AddedToken("[SEP]", rstrip=True, special=True)])
    tok.add_tokens([AddedToken("hello world", single_word=True, normalized=True),
                    AddedToken("«NEW»", normalized=False)])
    return tok


def build_llama3(lines):
    specials = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                "<|end_header_id|>", "<|eot_id|>"] + [
                    f"<|reserved_special_token_{i}|>" for i in range(6)]
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = train_bpe(pre, specials, lines, ignore_merges=True)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", 0)])])
    return tok, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"}


def build_qwen2(lines):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok = train_bpe(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], lines,
                    normalizer=normalizers.NFC())
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, {"bos_token": None,
                 "eos_token": {"content": "<|im_end|>", "special": True}}


def build_o200k(lines):
    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(O200K_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    return train_bpe(pre, ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], lines)


def build_sentencepiece(folder, name, lines, **options):
    text = os.path.join(folder, name + ".txt")
    with open(text, "w", encoding="utf-8") as f:
        for line in lines:
            f.write(line.replace("\r", " ").replace("\n", " ") + "\n")
    prefix = os.path.join(folder, name)
    options.setdefault("character_coverage", 1.0)
    spm.SentencePieceTrainer.train(input=text, model_prefix=prefix, minloglevel=2, num_threads=2,
                                   **options)
    return prefix + ".model"


SP_BPE_OPTIONS = dict(model_type="bpe", vocab_size=1000, byte_fallback=True,
                      normalization_rule_name="identity", remove_extra_whitespaces=False,
                      split_digits=True, user_defined_symbols=["<|im_start|>", "<|im_end|>"])
SP_UNIGRAM_OPTIONS = dict(model_type="unigram", vocab_size=800, hard_vocab_limit=False)


# ---------------------------------------------------------------------------
# Checks

class Report:
    def __init__(self):
        self.checks = 0
        self.failures = []

    def expect(self, ok, what):
        self.checks += 1
        if not ok:
            self.failures.append(what)


def run_driver(driver, path, mode, inputs, *flags):
    stdin = "".join(json.dumps(x) + "\n" for x in inputs)
    proc = subprocess.run([driver, path, mode, *flags], input=stdin, capture_output=True,
                          text=True, encoding="utf-8")
    # Lines end at "\n" only (str.splitlines would also cut at U+2028 etc.).
    out = [json.loads(line) for line in proc.stdout.split("\n") if line]
    if len(out) != len(inputs):
        sys.exit(f"tokenizer_check: {driver} {path} {mode} gave {len(out)} results for "
                 f"{len(inputs)} inputs (exit {proc.returncode}): {proc.stderr.strip()}")
    return out


def short(s, n=60):
    r = repr(s)
    return r if len(r) <= n else r[:n] + "..."


def check_hf(report, name, path, tok, driver, texts, roundtrip):
    """`roundtrip`: a function giving the text decode(encode(x)) must equal, or
    None where the tokenizer is lossy (then only the reference is matched)."""
    lossless = 0
    for add_special in (True, False):
        flags = [] if add_special else ["--no-special"]
        got = run_driver(driver, path, "encode", texts, *flags)
        for text, g in zip(texts, got):
            if "error" in g:
                report.expect(False, f"{name}: {short(text)}: error {g['error']}")
                continue
            ref = tok.encode(text, add_special_tokens=add_special).ids
            report.expect(g["ids"] == ref, f"{name}: encode {short(text)} special={add_special}:"
                          f" got {g['ids'][:20]} want {ref[:20]}")
            report.expect(g["decoded"] == tok.decode(ref, skip_special_tokens=False),
                          f"{name}: decode {short(text)}: {short(g['decoded'])}")
            report.expect(g["decoded_skip"] == tok.decode(ref, skip_special_tokens=True),
                          f"{name}: decode(skip) {short(text)}: {short(g['decoded_skip'])}")
            if not add_special and roundtrip is not None:
                want = roundtrip(text)
                report.expect(g["decoded"] == want,
                              f"{name}: round trip {short(text)} -> {short(g['decoded'])}")
                lossless += g["decoded"] == want
    # Random ids: cut UTF-8 sequences, special ids, ids past the vocabulary.
    rng = random.Random(99)
    size = tok.get_vocab_size(with_added_tokens=True)
    seqs = [[rng.randrange(size + 5) for _ in range(rng.randint(0, 12))] for _ in range(200)]
    for skip in (False, True):
        got = run_driver(driver, path, "decode", seqs, *(["--skip-special"] if skip else []))
        for ids, g in zip(seqs, got):
            ref = tok.decode(ids, skip_special_tokens=skip)
            report.expect(g.get("text") == ref,
                          f"{name}: decode {ids} skip={skip}: {short(g)} want {short(ref)}")
    return lossless


def check_info(report, name, path, driver, want):
    proc = subprocess.run([driver, path, "info"], capture_output=True, text=True)
    if proc.returncode != 0:
        report.expect(False, f"{name}: info failed: {proc.stderr.strip()}")
        return
    info = json.loads(proc.stdout)
    for key, value in want.items():
        report.expect(info.get(key) == value, f"{name}: info {key} = {info.get(key)}, want {value}")


def check_sp(report, name, path, driver, texts, lossless_expected):
    sp = spm.SentencePieceProcessor(model_file=path)
    lossless = 0
    for add_special in (True, False):
        got = run_driver(driver, path, "encode", texts, *([] if add_special else ["--no-special"]))
        for text, g in zip(texts, got):
            if "error" in g:
                report.expect(False, f"{name}: {short(text)}: error {g['error']}")
                continue
            ref = sp.encode(text)
            if add_special:
                ref = [sp.bos_id()] + ref
            report.expect(g["ids"] == ref, f"{name}: encode {short(text)} special={add_special}:"
                          f" got {g['ids'][:20]} want {ref[:20]}")
            report.expect(g["decoded"] == sp.decode(ref),
                          f"{name}: decode {short(text)}: {short(g['decoded'])}")
            if not add_special:
                ok = g["decoded"] == text
                lossless += ok
                if lossless_expected:
                    report.expect(ok, f"{name}: round trip {short(text)} -> {short(g['decoded'])}")
    rng = random.Random(98)
    seqs = [[rng.randrange(sp.get_piece_size()) for _ in range(rng.randint(0, 12))]
            for _ in range(200)]
    got = run_driver(driver, path, "decode", seqs)
    for ids, g in zip(seqs, got):
        ref = sp.decode(ids)
        report.expect(g.get("text") == ref, f"{name}: decode {ids}: {short(g)} want {short(ref)}")
    return lossless


def save_hf(tok, folder, name, config=None):
    sub = os.path.join(folder, name)
    os.makedirs(sub, exist_ok=True)
    path = os.path.join(sub, "tokenizer.json")
    tok.save(path)
    if config is not None:
        with open(os.path.join(sub, "tokenizer_config.json"), "w") as f:
            json.dump(config, f)
    return path


def write_fixtures(folder):
    """The committed fixtures: a Llama-3 style tokenizer.json and a small
    SentencePiece BPE model, trained on the generated corpus."""
    os.makedirs(folder, exist_ok=True)
    lines = training_lines()
    tok, _ = build_llama3(lines)
    tok.save(os.path.join(folder, "llama3-bpe.json"))
    with tempfile.TemporaryDirectory() as tmp:
        model = build_sentencepiece(tmp, "sp", lines, **dict(SP_BPE_OPTIONS, vocab_size=600,
                                                             character_coverage=0.99))
        with open(model, "rb") as src, open(os.path.join(folder, "sp-bpe.model"), "wb") as dst:
            dst.write(src.read())
    for name in sorted(os.listdir(folder)):
        print(f"wrote {os.path.join(folder, name)} "
              f"({os.path.getsize(os.path.join(folder, name))} bytes)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--driver", help="resa-tokenize")
    ap.add_argument("--keep", help="build the tokenizers here and keep them")
    ap.add_argument("--write-fixtures", metavar="DIR")
    args = ap.parse_args()
    if args.write_fixtures:
        write_fixtures(args.write_fixtures)
        return 0
    if not args.driver:
        ap.error("--driver is required")

    texts = corpus()
    lines = training_lines()
    report = Report()
    tmp = None
    if args.keep:
        folder = args.keep
        os.makedirs(folder, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="resa-tok-")
        folder = tmp.name
    identity = lambda s: s  # noqa: E731
    nfc = lambda s: unicodedata.normalize("NFC", s)  # noqa: E731
    summary = []

    gpt2 = build_gpt2(lines)
    path = save_hf(gpt2, folder, "gpt2")
    summary.append(("gpt2", check_hf(report, "gpt2", path, gpt2, args.driver, texts, identity)))

    flags = build_gpt2_flags(lines)
    path = save_hf(flags, folder, "gpt2-flags")
    # Lossy by design: add_prefix_space adds a space, a non-ASCII added token
    # decodes through the byte-level decoder to U+FFFD (as in the reference).
    summary.append(("gpt2-flags", check_hf(report, "gpt2-flags", path, flags, args.driver,
                                           texts, None)))

    llama3, config = build_llama3(lines)
    path = save_hf(llama3, folder, "llama3", config)
    summary.append(("llama3", check_hf(report, "llama3", path, llama3, args.driver, texts,
                                       identity)))
    check_info(report, "llama3", path, args.driver,
               {"kind": "hf-bpe", "bos": llama3.token_to_id("<|begin_of_text|>"),
                "eos": llama3.token_to_id("<|eot_id|>"),
                "vocab_size": llama3.get_vocab_size(with_added_tokens=True)})

    qwen2, config = build_qwen2(lines)
    path = save_hf(qwen2, folder, "qwen2", config)
    summary.append(("qwen2", check_hf(report, "qwen2", path, qwen2, args.driver, texts, nfc)))
    check_info(report, "qwen2", path, args.driver,
               {"bos": None, "eos": qwen2.token_to_id("<|im_end|>")})

    o200k = build_o200k(lines)
    path = save_hf(o200k, folder, "o200k")
    summary.append(("o200k", check_hf(report, "o200k", path, o200k, args.driver, texts,
                                      identity)))

    fixture = os.path.join(FIXTURES, "llama3-bpe.json")
    summary.append(("fixture llama3-bpe.json",
                    check_hf(report, "fixture", fixture, Tokenizer.from_file(fixture),
                             args.driver, texts, identity)))

    sp_bpe = build_sentencepiece(folder, "sp-bpe", lines, **SP_BPE_OPTIONS)
    summary.append(("sp-bpe", check_sp(report, "sp-bpe", sp_bpe, args.driver, texts, True)))
    check_info(report, "sp-bpe", sp_bpe, args.driver, {"kind": "sentencepiece", "bos": 1,
                                                       "eos": 2})
    # nmt_nfkc normalization and whitespace folding: lossy in the reference too.
    sp_uni = build_sentencepiece(folder, "sp-unigram", lines, **SP_UNIGRAM_OPTIONS)
    summary.append(("sp-unigram", check_sp(report, "sp-unigram", sp_uni, args.driver, texts,
                                           False)))
    sp_fixture = os.path.join(FIXTURES, "sp-bpe.model")
    summary.append(("fixture sp-bpe.model",
                    check_sp(report, "sp-fixture", sp_fixture, args.driver, texts, True)))

    for name, lossless in summary:
        print(f"{name:28s} {len(texts)} texts, round trip exact for {lossless}")
    for f in report.failures[:40]:
        print("FAIL", f)
    print(f"tokenizer_check: {report.checks} checks, {len(report.failures)} failed")
    if tmp:
        tmp.cleanup()
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
