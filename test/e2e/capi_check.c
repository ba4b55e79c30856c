/* The C API end to end, from C: load, generate, run GSR, and the error path.
 * usage: resa-capi-check PKG TOKENIZER */
#include "resa/resa.h"

#include <stdio.h>
#include <string.h>

static int failures = 0;

static void check(int ok, const char *what) {
  printf("%s: %s\n", ok ? "PASS" : "FAIL", what);
  failures += !ok;
}

int main(int argc, char **argv) {
  resa_model *model = NULL;
  char *text = NULL, *json = NULL;
  if (argc != 3) {
    fprintf(stderr, "usage: resa-capi-check PKG TOKENIZER\n");
    return 2;
  }
  check(resa_model_load("/nonexistent.resa", argv[2], 0, &model) == RESA_ERROR &&
            strstr(resa_last_error(), "not a resa package") != NULL,
        "a missing package is RESA_ERROR with a message");
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
  check(resa_generate(model, NULL, 8, 0.0f, 1.0f, 0, &text) == RESA_ERROR,
        "a null prompt is RESA_ERROR");
  resa_string_free(text);
  resa_string_free(json);
  resa_model_free(model);
  return failures ? 1 : 0;
}
