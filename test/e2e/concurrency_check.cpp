// Concurrent requests on one loaded model: every output must equal the same
// request run alone (fixed seeds, greedy and sampled). Three levels:
//  - the C API: one resa_model, calls from every thread at once (its pool of
//    generators), checked against a second model that ran each request alone;
//  - the C++ API: one Package shared by every thread, a Generator per thread;
//  - one stateless Executor shared by every thread (Executor::run is const).
// Bounded: a fixed set of small requests, THREADS threads, ROUNDS rounds each.
// usage: resa-concurrency-check GSR_PKG TOKENIZER [THREADS [ROUNDS]]
#include "CheckUtil.h"
#include "resa/resa.h"
#include "resa/runtime/Generator.h"
#include "resa/runtime/ModelInputs.h"
#include "resa/runtime/Tokenizer.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

int failures = 0;

void report(bool ok, const std::string &what) {
  std::printf("%s: %s\n", ok ? "PASS" : "FAIL", what.c_str());
  std::fflush(stdout);
  failures += !ok;
}

// Runs job(thread, round) on `threads` threads for `rounds` rounds each;
// returns the number of jobs that returned false.
int onThreads(int threads, int rounds, const std::function<bool(int, int)> &job) {
  std::atomic<int> bad{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([&, t] {
      for (int r = 0; r < rounds; ++r)
        if (!job(t, r))
          ++bad;
    });
  for (std::thread &th : pool)
    th.join();
  return bad;
}

// ---- The C API.

struct Request {
  std::string prompt;
  int64_t maxNewTokens;
  float temperature, topP;
  uint64_t seed;
  bool gsr;
};

std::vector<Request> requests() {
  const char *prompts[] = {"What is 3 + 4?", "Hello", "The quick brown fox jumps over",
                           "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20", "a",
                           "Once upon a time, in a land far away, there lived"};
  std::vector<Request> out;
  for (int i = 0; i < 12; ++i)
    out.push_back({prompts[i % 6], 4 + (i * 7) % 21, i % 3 == 0 ? 0.0f : 0.6f + 0.2f * (i % 3),
                   i % 4 == 3 ? 0.8f : 1.0f, static_cast<uint64_t>(100 + i), false});
  out.push_back({"What is 3 + 4?", 0, 0, 1, 7, true});
  out.push_back({"What is 2 + 2?", 0, 0, 1, 8, true});
  return out;
}

// The request's text (GSR: its JSON without the timings), or its error.
std::string run(resa_model *m, const Request &r) {
  char *out = nullptr;
  resa_status s = r.gsr ? resa_gsr(m, r.prompt.c_str(), r.seed, &out)
                        : resa_generate(m, r.prompt.c_str(), r.maxNewTokens, r.temperature,
                                        r.topP, r.seed, &out);
  if (s != RESA_OK)
    return std::string("ERROR: ") + resa_last_error();
  std::string text = out;
  resa_string_free(out);
  if (!r.gsr)
    return text;
  std::istringstream lines(text);
  std::string line, kept;
  while (std::getline(lines, line))
    if (line.find("_seconds\"") == std::string::npos)
      kept += line + "\n";
  return kept;
}

void checkCApi(const char *pkg, const char *tok, int threads, int rounds) {
  std::vector<Request> reqs = requests();
  resa_model *alone = nullptr, *shared = nullptr;
  if (resa_model_load(pkg, tok, 0, &alone) != RESA_OK ||
      resa_model_load(pkg, tok, 0, &shared) != RESA_OK) {
    report(false, std::string("C API: load: ") + resa_last_error());
    return;
  }
  std::vector<std::string> want;
  bool allOk = true;
  for (const Request &r : reqs) {
    want.push_back(run(alone, r));
    allOk &= want.back().rfind("ERROR", 0) != 0;
  }
  report(allOk, "C API: every request succeeds run alone");
  std::mutex printMutex;
  int bad = onThreads(threads, rounds, [&](int t, int round) {
    bool ok = true;
    // Each thread walks the requests from its own starting point.
    for (size_t k = 0; k < reqs.size(); ++k) {
      size_t i = (k + static_cast<size_t>(t) * 5 + static_cast<size_t>(round) * 3) % reqs.size();
      std::string got = run(shared, reqs[i]);
      if (got != want[i]) {
        std::lock_guard<std::mutex> lock(printMutex);
        std::printf("  thread %d round %d request %zu: got '%s', alone '%s'\n", t, round, i,
                    got.c_str(), want[i].c_str());
        ok = false;
      }
    }
    return ok;
  });
  report(bad == 0, "C API: " + std::to_string(threads) + " threads x " +
                       std::to_string(rounds) + " rounds x " + std::to_string(reqs.size()) +
                       " requests on one model give what each gives alone");
  resa_model_free(alone);
  resa_model_free(shared);
}

// ---- The C++ API.

struct TokenRequest {
  std::vector<int64_t> prompt;
  resa::GenerationOptions options;
  int64_t shared; // > 0: generateShared with this many samples
};

std::vector<resa::Generation> run(resa::Generator &g, const TokenRequest &r) {
  return r.shared > 0 ? g.generateShared(r.prompt, r.shared, r.options)
                      : g.generate({r.prompt}, r.options);
}


void checkCppApi(const char *pkg, const char *tok, int threads, int rounds) {
  auto package = resa::Package::load(pkg);
  auto tokenizer = resa::loadTokenizer(tok);
  std::vector<TokenRequest> reqs;
  const char *prompts[] = {"What is 3 + 4?", "The quick brown fox", "x y z", "Hello there"};
  for (int i = 0; i < 8; ++i) {
    TokenRequest r;
    r.prompt = tokenizer->encode(prompts[i % 4], true);
    r.options.maxNewTokens = 6 + 3 * i;
    r.options.sampling = {i % 2 ? 0.8f : 0.0f, i % 4 == 3 ? 0.9f : 1.0f,
                          static_cast<uint64_t>(i)};
    r.shared = i % 3 == 2 ? 3 : 0;
    reqs.push_back(r);
  }
  int64_t pages = 0;
  for (const TokenRequest &r : reqs)
    pages = std::max(pages, resa::Generator::pagesFor(
                                *package,
                                std::vector<std::vector<int64_t>>(std::max<int64_t>(r.shared, 1),
                                                                  r.prompt),
                                r.options.maxNewTokens));
  std::vector<std::vector<resa::Generation>> want;
  {
    resa::Generator g(*package, pages);
    for (const TokenRequest &r : reqs)
      want.push_back(run(g, r));
  }
  int bad = onThreads(threads, rounds, [&](int t, int round) {
    resa::Generator g(*package, pages); // one per thread; the package is shared
    bool ok = true;
    for (size_t k = 0; k < reqs.size(); ++k) {
      size_t i = (k + static_cast<size_t>(t + round)) % reqs.size();
      ok &= resa::check::sameGenerations(run(g, reqs[i]), want[i]);
    }
    return ok;
  });
  report(bad == 0, "C++ API: one Package, a Generator per thread (" + std::to_string(threads) +
                       " threads x " + std::to_string(rounds) +
                       " rounds): tokens and log-probabilities equal those run alone");

  resa::Executor exec(*package); // the stateless @main, shared
  std::vector<resa::Tensor> ids, logits;
  for (const TokenRequest &r : reqs) {
    resa::Tensor t(resa::DType::I64, {1, static_cast<int64_t>(r.prompt.size())});
    std::copy(r.prompt.begin(), r.prompt.end(), t.data<int64_t>());
    ids.push_back(t);
    logits.push_back(exec.run(resa::makeModelInputs(exec, t))[0]);
  }
  bad = onThreads(threads, rounds, [&](int t, int) {
    bool ok = true;
    for (size_t k = 0; k < ids.size(); ++k) {
      size_t i = (k + static_cast<size_t>(t)) % ids.size();
      resa::Tensor got = exec.run(resa::makeModelInputs(exec, ids[i]))[0];
      ok &= got.shape() == logits[i].shape() &&
            std::memcmp(got.raw(), logits[i].raw(), got.nbytes()) == 0;
    }
    return ok;
  });
  report(bad == 0, "C++ API: one Executor shared by " + std::to_string(threads) +
                       " threads: logits bit-identical to those run alone");
}

} // namespace

int main(int argc, char **argv) {
  if (argc < 3 || argc > 5) {
    std::fprintf(stderr, "usage: resa-concurrency-check GSR_PKG TOKENIZER [THREADS [ROUNDS]]\n");
    return 2;
  }
  int threads = argc > 3 ? std::atoi(argv[3]) : 4, rounds = argc > 4 ? std::atoi(argv[4]) : 2;
  auto start = std::chrono::steady_clock::now();
  try {
    checkCApi(argv[1], argv[2], threads, rounds);
    checkCppApi(argv[1], argv[2], threads, rounds);
  } catch (const std::exception &e) {
    report(false, std::string("unexpected error: ") + e.what());
  }
  std::printf("%.1f s\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
  return failures ? 1 : 0;
}
