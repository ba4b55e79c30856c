/* The C API end to end, from C: load, generate, run GSR, and every error
 * path: each gives its status code, a message, and a NULL output.
 * usage: resa-capi-check GSR_PKG TOKENIZER [PLAIN_PKG CORRUPT_PKG]
 * GSR_PKG is compiled with --pipeline=gsr; PLAIN_PKG without it; CORRUPT_PKG
 * is a package whose plan fails its checksum. */
#include "resa/resa.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
  if (!ok)
    printf("  last error: %s\n", resa_last_error());
  failures += !ok;
}

/* The call returned `want`, and (on an error) set a message holding `words`. */
static int failed(resa_status got, resa_status want, const char *words) {
  return got == want && strlen(resa_last_error()) > 0 &&
         (!words || strstr(resa_last_error(), words) != NULL);
}

/* A prompt of about n tokens. */
static const char *longPrompt(int n) {
  static char buf[8192];
  buf[0] = '\0';
  for (int i = 0; i < n && strlen(buf) + 8 < sizeof buf; ++i)
    strcat(buf, i % 2 ? " seven" : " three");
  return buf;
}

static void loadErrors(const char *pkg, const char *tok, const char *corrupt) {
  resa_model *m = (resa_model *)&m; /* must come back NULL */
  check(failed(resa_model_load(NULL, tok, 0, &m), RESA_INVALID_ARGUMENT, "package") && !m,
        "load: a null package is RESA_INVALID_ARGUMENT, *out NULL");
  m = (resa_model *)&m;
  check(failed(resa_model_load(pkg, NULL, 0, &m), RESA_INVALID_ARGUMENT, "tokenizer") && !m,
        "load: a null tokenizer is RESA_INVALID_ARGUMENT");
  check(failed(resa_model_load(pkg, tok, 0, NULL), RESA_INVALID_ARGUMENT, "out"),
        "load: a null out is RESA_INVALID_ARGUMENT");
  m = (resa_model *)&m;
  check(failed(resa_model_load(pkg, tok, -1, &m), RESA_INVALID_ARGUMENT, "kv_pages") && !m,
        "load: negative kv_pages is RESA_INVALID_ARGUMENT");
  m = (resa_model *)&m;
  check(failed(resa_model_load("/nonexistent.resa", tok, 0, &m), RESA_ERROR,
               "not a resa package") && !m,
        "load: a missing package is RESA_ERROR with a message");
  m = (resa_model *)&m;
  check(failed(resa_model_load(pkg, "/nonexistent-tokenizer.json", 0, &m), RESA_ERROR,
               "nonexistent-tokenizer.json") && !m,
        "load: a missing tokenizer is RESA_ERROR naming it");
  if (corrupt) {
    m = (resa_model *)&m;
    check(failed(resa_model_load(corrupt, tok, 0, &m), RESA_ERROR, "checksum") && !m,
          "load: a package with a corrupted checksum is RESA_ERROR");
  }
}

static void generateErrors(resa_model *m) {
  char *text = (char *)&text;
  check(failed(resa_generate(NULL, "hi", 4, 0.0f, 1.0f, 0, &text), RESA_INVALID_ARGUMENT,
               "model") && !text,
        "generate: a null model is RESA_INVALID_ARGUMENT, *text NULL");
  check(failed(resa_generate(m, NULL, 4, 0.0f, 1.0f, 0, &text), RESA_INVALID_ARGUMENT, "prompt"),
        "generate: a null prompt is RESA_INVALID_ARGUMENT");
  check(failed(resa_generate(m, "hi", 4, 0.0f, 1.0f, 0, NULL), RESA_INVALID_ARGUMENT, "text"),
        "generate: a null text is RESA_INVALID_ARGUMENT");
  check(failed(resa_generate(m, "hi", -1, 0.0f, 1.0f, 0, &text), RESA_INVALID_ARGUMENT,
               "max_new_tokens"),
        "generate: negative max_new_tokens is RESA_INVALID_ARGUMENT");
  check(failed(resa_generate(m, "hi", 4, -0.5f, 1.0f, 0, &text), RESA_INVALID_ARGUMENT,
               "temperature"),
        "generate: a negative temperature is RESA_INVALID_ARGUMENT");
  check(failed(resa_generate(m, "hi", 4, NAN, 1.0f, 0, &text), RESA_INVALID_ARGUMENT,
               "temperature"),
        "generate: a NaN temperature is RESA_INVALID_ARGUMENT");
  check(failed(resa_generate(m, "hi", 4, 0.5f, 0.0f, 0, &text), RESA_INVALID_ARGUMENT, "top_p"),
        "generate: top_p 0 is RESA_INVALID_ARGUMENT");
  check(failed(resa_generate(m, "hi", 4, 0.5f, 1.5f, 0, &text), RESA_INVALID_ARGUMENT, "top_p"),
        "generate: top_p 1.5 is RESA_INVALID_ARGUMENT");
  char *json = (char *)&json;
  check(failed(resa_gsr(NULL, "hi", 0, &json), RESA_INVALID_ARGUMENT, "model") && !json,
        "gsr: a null model is RESA_INVALID_ARGUMENT, *json NULL");
  check(failed(resa_gsr(m, NULL, 0, &json), RESA_INVALID_ARGUMENT, "problem"),
        "gsr: a null problem is RESA_INVALID_ARGUMENT");
  check(failed(resa_gsr(m, "hi", 0, NULL), RESA_INVALID_ARGUMENT, "json"),
        "gsr: a null json is RESA_INVALID_ARGUMENT");
}

/* A model whose KV cache holds one page (one block of tokens). */
static void capacityErrors(const char *pkg, const char *tok) {
  resa_model *m = NULL;
  char *text = NULL, *json = NULL;
  if (resa_model_load(pkg, tok, 1, &m) != RESA_OK) {
    check(0, "load with kv_pages = 1");
    return;
  }
  check(failed(resa_generate(m, longPrompt(200), 4, 0.0f, 1.0f, 0, &text), RESA_ERROR,
               "longer than the KV cache") && !text,
        "generate: a prompt longer than the KV cache is RESA_ERROR");
  check(failed(resa_gsr(m, longPrompt(200), 0, &json), RESA_ERROR, "longer than the KV cache") &&
            !json,
        "gsr: a problem longer than the KV cache is RESA_ERROR");
  /* The prompt fits; the tokens after it cannot (no stop token is
   * generated within the first hundreds here: checked against resa-run). */
  check(failed(resa_generate(m, "What is", 400, 0.0f, 1.0f, 0, &text), RESA_ERROR,
               "KV cache full") && !text,
        "generate: the KV cache filling up part way through is RESA_ERROR");
  check(resa_generate(m, "What is", 2, 0.0f, 1.0f, 0, &text) == RESA_OK && text != NULL &&
            resa_last_error()[0] == '\0',
        "the same model serves the next call after the errors; the error is cleared");
  resa_string_free(text);
  resa_model_free(m);
}

int main(int argc, char **argv) {
  resa_model *model = NULL;
  char *text = NULL, *json = NULL;
  if (argc != 3 && argc != 5) {
    fprintf(stderr, "usage: resa-capi-check GSR_PKG TOKENIZER [PLAIN_PKG CORRUPT_PKG]\n");
    return 2;
  }
  loadErrors(argv[1], argv[2], argc == 5 ? argv[4] : NULL);
  if (resa_model_load(argv[1], argv[2], 0, &model) != RESA_OK) {
    printf("FAIL: load: %s\n", resa_last_error());
    return 1;
  }
  check(resa_generate(model, "What is 3 + 4?", 8, 0.0f, 1.0f, 0, &text) == RESA_OK &&
            text != NULL,
        "resa_generate returns text");
  check(resa_gsr(model, "What is 3 + 4?", 1, &json) == RESA_OK && json != NULL &&
            strstr(json, "\"candidates\"") != NULL && strstr(json, "\"refinement\"") != NULL,
        "resa_gsr returns the structured result");
  resa_string_free(text);
  resa_string_free(json);
  generateErrors(model);
  resa_model_free(model);
  capacityErrors(argv[1], argv[2]);
  if (argc == 5) {
    if (resa_model_load(argv[3], argv[2], 0, &model) != RESA_OK) {
      printf("FAIL: load %s: %s\n", argv[3], resa_last_error());
      return 1;
    }
    json = (char *)&json;
    check(failed(resa_gsr(model, "What is 3 + 4?", 0, &json), RESA_ERROR, "no GSR pipeline") &&
              !json,
          "gsr: a package without a GSR pipeline is RESA_ERROR");
    resa_model_free(model);
  }
  resa_model_free(NULL);
  resa_string_free(NULL);
  check(1, "resa_model_free(NULL) and resa_string_free(NULL) do nothing");
  return failures ? 1 : 0;
}
