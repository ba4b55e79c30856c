// resa-run: run a compiled package from the shell.
#include "resa/runtime/Executor.h"
#include "resa/runtime/Generator.h"
#include "resa/runtime/Gsr.h"
#include "resa/runtime/KVCapacity.h"
#include "resa/runtime/Tokenizer.h"

#include "plan.pb.h"
#include "resa/runtime/ModelInputs.h"
#include "resa/runtime/Npy.h"
#include "resa/runtime/Sampler.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <sstream>

namespace {

const char *kUsage = R"(usage: resa-run PKG (--prompt TEXT | --tokens 1,2,3 | --input-ids FILE.npy) [options]

Runs a package compiled by resa-compile and prints the generated token ids.

  --tokens LIST          comma-separated token ids (one sequence)
  --input-ids FILE.npy   int64 or int32 token ids of shape [batch, seq]
  --prompt TEXT          text prompt (needs --tokenizer)
  --tokenizer FILE       tokenizer.json, SentencePiece .model or a model folder;
                         with it, the output is text
  --json                 for a package compiled with --pipeline=gsr: print every
                         candidate, its answer, the refinement and the final
                         answer, with token counts and timings
  --max-new-tokens N     tokens to generate per sequence (default 16)
  --eos ID               stop a sequence after this token (may be repeated)
  --recompute            generate by recomputing the whole sequence each step
                         (no KV cache): the exact reference for the cached path
  --temperature T        0 = greedy (default), > 0 samples
  --top-p P              nucleus sampling mass in (0, 1] (default 1)
  --seed S               sampling seed (default 0)
  --device D             auto (default: cuda when this runtime has it and a GPU
                         is present), cpu (exact fp32) or cuda (bf16/f16)
  --dump-logits FILE     write the prompt's logits, float32 [batch, seq, vocab]
                         (on CUDA, through the package's prefill: [batch, 1,
                         vocab] if compiled with --prefill-logits=last)
  --kv-pages N           KV-cache capacity in pages of the package's block size
                         (default 0: what the prompts and --max-new-tokens
                         need); it bounds the prompt and the tokens after it
  --help                 this text
)";

struct Options {
  std::string package, tokens, inputIds, prompt, dumpLogits, tokenizer, device = "auto";
  bool json = false;
  int64_t maxNewTokens = 16;
  int64_t kvPages = 0; // 0: sized to the run
  std::vector<int64_t> eos;
  bool recompute = false;
  resa::SamplingOptions sampling;
};

int64_t parseInt(const std::string &flag, const std::string &v) {
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size())
      return x;
  } catch (...) {
  }
  throw resa::Error(flag + " expects an integer, got '" + v + "'");
}

float parseFloat(const std::string &flag, const std::string &v) {
  try {
    size_t used = 0;
    float x = std::stof(v, &used);
    if (used == v.size())
      return x;
  } catch (...) {
  }
  throw resa::Error(flag + " expects a number, got '" + v + "'");
}

Options parseArgs(int argc, char **argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i], value;
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage;
      std::exit(0);
    }
    if (arg == "--recompute" || arg == "--json") {
      (arg == "--json" ? o.json : o.recompute) = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      if (!o.package.empty())
        throw resa::Error("unexpected argument '" + arg + "'");
      o.package = arg;
      continue;
    }
    size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    } else {
      if (i + 1 >= argc)
        throw resa::Error(arg + " needs a value");
      value = argv[++i];
    }
    if (arg == "--tokens") o.tokens = value;
    else if (arg == "--input-ids") o.inputIds = value;
    else if (arg == "--prompt") o.prompt = value;
    else if (arg == "--dump-logits") o.dumpLogits = value;
    else if (arg == "--tokenizer") o.tokenizer = value;
    else if (arg == "--device") o.device = value;
    else if (arg == "--max-new-tokens") o.maxNewTokens = parseInt(arg, value);
    else if (arg == "--kv-pages") o.kvPages = parseInt(arg, value);
    else if (arg == "--eos") o.eos.push_back(parseInt(arg, value));
    else if (arg == "--temperature") o.sampling.temperature = parseFloat(arg, value);
    else if (arg == "--top-p") o.sampling.topP = parseFloat(arg, value);
    else if (arg == "--seed") o.sampling.seed = static_cast<uint64_t>(parseInt(arg, value));
    else throw resa::Error("unknown option '" + arg + "' (see --help)");
  }
  if (o.package.empty())
    throw resa::Error("no package given (see --help)");
  int sources = !o.tokens.empty() + !o.inputIds.empty() + !o.prompt.empty();
  if (sources != 1)
    throw resa::Error("give exactly one of --prompt, --tokens, --input-ids");
  if (o.maxNewTokens < 0)
    throw resa::Error("--max-new-tokens must be >= 0");
  if (o.kvPages < 0)
    throw resa::Error("--kv-pages must be >= 0");
  if (o.device != "auto" && o.device != "cpu" && o.device != "cuda")
    throw resa::Error("--device must be auto, cpu or cuda, got '" + o.device + "'");
  if (o.device == "cuda" && o.recompute)
    throw resa::Error("--recompute is the CPU reference path; use --device cpu");
  return o;
}

resa::Tensor checkedIds(resa::Tensor t) {
  for (int64_t i = 0; i < t.numel(); ++i)
    if (t.data<int64_t>()[i] < 0)
      throw resa::Error("token id " + std::to_string(t.data<int64_t>()[i]) + " is negative");
  return t;
}

resa::Tensor tokenIds(const Options &o, const resa::Tokenizer *tok) {
  if (!o.prompt.empty()) {
    if (!tok)
      throw resa::Error("--prompt needs --tokenizer; or give --tokens / --input-ids");
    std::vector<int64_t> ids = tok->encode(o.prompt, true);
    if (ids.empty())
      throw resa::Error("the prompt encodes to no tokens");
    resa::Tensor t(resa::DType::I64, {1, static_cast<int64_t>(ids.size())});
    std::copy(ids.begin(), ids.end(), t.data<int64_t>());
    return t;
  }
  if (!o.tokens.empty()) {
    std::vector<int64_t> ids;
    std::stringstream ss(o.tokens);
    std::string item;
    while (std::getline(ss, item, ','))
      ids.push_back(parseInt("--tokens", item));
    if (ids.empty())
      throw resa::Error("--tokens is empty");
    resa::Tensor t(resa::DType::I64, {1, static_cast<int64_t>(ids.size())});
    std::copy(ids.begin(), ids.end(), t.data<int64_t>());
    return t;
  }
  resa::Tensor t = resa::readNpy(o.inputIds);
  if (t.rank() == 1)
    t = t.reshaped({1, t.dim(0)});
  if (t.rank() != 2 || t.dim(1) == 0)
    throw resa::Error(o.inputIds + ": token ids must be [batch, seq] with seq > 0, got " +
                      resa::shapeToString(t.shape()));
  if (t.dtype() == resa::DType::I32) {
    resa::Tensor wide(resa::DType::I64, t.shape());
    for (int64_t i = 0; i < t.numel(); ++i)
      wide.data<int64_t>()[i] = t.data<int32_t>()[i];
    return wide;
  }
  if (t.dtype() != resa::DType::I64)
    throw resa::Error(o.inputIds + ": token ids must be int64 or int32, got " +
                      resa::dtypeName(t.dtype()));
  return t;
}

// Generation by recomputing the whole sequence each step through the
// stateless @main: slow, exact, and independent of the KV cache.
std::vector<std::vector<int64_t>> recomputeGenerate(const resa::Executor &exec, size_t logitsIdx,
                                                    std::vector<std::vector<int64_t>> seqs,
                                                    const resa::GenerationOptions &options) {
  std::vector<std::vector<int64_t>> out(seqs.size());
  for (size_t b = 0; b < seqs.size(); ++b) {
    resa::SamplingOptions s = options.sampling;
    s.seed += b; // the same streams as the generator's
    resa::Sampler sampler(s);
    for (int64_t step = 0; step < options.maxNewTokens; ++step) {
      resa::Tensor ids(resa::DType::I64, {1, static_cast<int64_t>(seqs[b].size())});
      std::copy(seqs[b].begin(), seqs[b].end(), ids.data<int64_t>());
      resa::Tensor logits = exec.run(resa::makeModelInputs(exec, ids))[logitsIdx];
      int64_t vocab = logits.dim(2);
      int64_t tok = sampler.next(logits.data<float>() + (logits.dim(1) - 1) * vocab, vocab);
      out[b].push_back(tok);
      seqs[b].push_back(tok);
      if (std::find(options.stopTokens.begin(), options.stopTokens.end(), tok) !=
          options.stopTokens.end())
        break;
    }
  }
  return out;
}

// The device the run uses: --device, except that "auto" keeps to the CPU for
// what only the CPU runs (stateless packages, --recompute), and says so.
resa::Device chooseDevice(const Options &o, const resa::Package &package) {
  resa::Device device = resa::resolveDevice(o.device);
  if (device == resa::Device::Cpu)
    return device;
  const char *why = !package.plan().has_kv_cache() ? "the package has no KV-cache program"
                    : o.recompute                  ? "--recompute is the CPU reference"
                                                   : nullptr;
  if (!why)
    return device;
  if (o.device == "cuda")
    throw resa::Error(std::string("--device cuda: ") + why + "; use --device cpu");
  std::fprintf(stderr, "resa-run: running on the CPU: %s\n", why);
  return resa::Device::Cpu;
}

// Logits of every prompt position through the cached prefill program on
// `device`, [batch, seq, vocab] (sequence by sequence); [batch, 1, vocab]
// when the package's prefill keeps the last position only.
resa::Tensor prefillLogits(const resa::Package &package, const resa::Tensor &ids,
                           resa::Device device) {
  int64_t batch = ids.dim(0), seq = ids.dim(1);
  std::vector<std::vector<int64_t>> prompts(batch);
  for (int64_t b = 0; b < batch; ++b)
    prompts[b].assign(ids.data<int64_t>() + b * seq, ids.data<int64_t>() + (b + 1) * seq);
  resa::Generator gen(package, resa::Generator::pagesFor(package, prompts, 0), device);
  resa::Tensor out;
  for (int64_t b = 0; b < batch; ++b) {
    resa::Tensor logits = gen.prefill(b, prompts[b]);
    if (b == 0) {
      out = resa::Tensor(resa::DType::F32, {batch, logits.dim(0), logits.dim(1)});
      if (logits.dim(0) != seq)
        std::fprintf(stderr, "resa-run: the package's prefill keeps only the last position's "
                             "logits (resa-compile --prefill-logits=last): --dump-logits "
                             "writes [batch, 1, vocab]\n");
    }
    std::copy_n(logits.data<float>(), logits.numel(), out.data<float>() + b * logits.numel());
    gen.cache().removeSequence(b);
  }
  return out;
}

int run(const Options &o) {
  auto package = resa::Package::load(o.package);
  const resa::Device device = chooseDevice(o, *package);
  std::unique_ptr<resa::Tokenizer> tok;
  if (!o.tokenizer.empty())
    tok = resa::loadTokenizer(o.tokenizer);
  if (o.json && !package->plan().has_gsr())
    throw resa::Error("--json prints a GSR run: compile the package with --pipeline=gsr");
  if (package->plan().has_gsr() && !o.prompt.empty()) {
    // The package's GSR pipeline: problem -> candidates -> refinement.
    resa::GsrConfig config = resa::gsrConfig(*package);
    if (!tok)
      throw resa::Error("a GSR run needs --tokenizer");
    int64_t problemTokens = static_cast<int64_t>(tok->encode(o.prompt, true).size());
    resa::Generator gen(
        *package, o.kvPages ? o.kvPages : resa::gsrPagesFor(*package, config, problemTokens),
        device);
    resa::requirePromptFits(gen.cache().config(), problemTokens, "raise --kv-pages");
    resa::GsrResult r = resa::runGsr(gen, *tok, o.prompt, config, o.sampling.seed);
    if (o.json)
      std::cout << resa::gsrResultJson(r);
    else
      std::cout << r.refinement.text << "\n";
    return 0;
  }
  resa::Executor exec(*package);
  resa::Tensor ids = checkedIds(tokenIds(o, tok.get()));
  int64_t batch = ids.dim(0);
  size_t logitsIdx = 0;
  while (logitsIdx < exec.outputNames().size() && exec.outputNames()[logitsIdx] != "logits")
    ++logitsIdx;
  if (logitsIdx == exec.outputNames().size())
    throw resa::Error(o.package + ": the model has no 'logits' output");

  if (!o.dumpLogits.empty()) {
    resa::Tensor logits = device == resa::Device::Cuda
                              ? prefillLogits(*package, ids, device)
                              : exec.run(resa::makeModelInputs(exec, ids))[logitsIdx];
    if (logits.rank() != 3 || logits.dtype() != resa::DType::F32)
      throw resa::Error("logits must be float32 [batch, seq, vocab], got " +
                        resa::shapeToString(logits.shape()));
    resa::writeNpy(o.dumpLogits, logits);
  }
  if (o.maxNewTokens == 0)
    return 0;
  std::vector<std::vector<int64_t>> prompts(batch);
  for (int64_t b = 0; b < batch; ++b)
    prompts[b].assign(ids.data<int64_t>() + b * ids.dim(1),
                      ids.data<int64_t>() + (b + 1) * ids.dim(1));
  resa::GenerationOptions options;
  options.maxNewTokens = o.maxNewTokens;
  options.stopTokens = o.eos;
  options.sampling = o.sampling;
  std::vector<std::vector<int64_t>> generated;
  if (o.recompute) {
    generated = recomputeGenerate(exec, logitsIdx, prompts, options);
  } else {
    resa::Generator gen(
        *package,
        o.kvPages ? o.kvPages : resa::Generator::pagesFor(*package, prompts, o.maxNewTokens),
        device);
    resa::requirePromptFits(gen.cache().config(), ids.dim(1), "raise --kv-pages");
    for (const resa::Generation &g : gen.generate(prompts, options))
      generated.push_back(g.tokens);
  }
  for (const auto &tokens : generated) {
    if (tok) {
      std::cout << tok->decode(tokens, true) << "\n";
      continue;
    }
    for (size_t i = 0; i < tokens.size(); ++i)
      std::cout << (i ? "," : "") << tokens[i];
    std::cout << "\n";
  }
  return 0;
}

} // namespace

int main(int argc, char **argv) {
  try {
    return run(parseArgs(argc, argv));
  } catch (const std::exception &e) {
    std::fprintf(stderr, "resa-run: error: %s\n", e.what());
    return 1;
  }
}
