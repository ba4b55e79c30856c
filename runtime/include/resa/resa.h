/* The resa runtime's C API: load a compiled package and a tokenizer, then
 * generate text or run the package's GSR pipeline.
 *
 * Errors: every call that can fail returns a status; on anything but RESA_OK,
 * resa_last_error() says why (one line, kept per thread until that thread's
 * next call) and the output pointer is set to NULL. Strings the library
 * returns are freed with resa_string_free.
 *
 * Threads: a loaded model serves calls from any number of threads at once.
 * The package (plan and mapped weights) and the tokenizer are shared
 * read-only; each call in flight runs on a generator of its own, with a KV
 * cache of kv_pages pages, which the model keeps in a pool and reuses for
 * later calls (memory grows with the number of calls in flight at once, not
 * with the number of calls). A call's result depends on its arguments only
 * (seed included), never on other calls, on their order or on the thread.
 * resa_model_free must not overlap any call on the same model. */
#ifndef RESA_RESA_H
#define RESA_RESA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
  RESA_OK = 0,
  RESA_ERROR = 1,            /* the call failed: a bad package or tokenizer, a prompt
                              * longer than the KV cache, the cache full part way
                              * through generation, ... */
  RESA_INVALID_ARGUMENT = 2, /* a null pointer, or a number out of its range */
} resa_status;

typedef struct resa_model resa_model;

/* kv_pages: KV-cache capacity of each call in pages of the package's block
 * size (0: room for 32K tokens; negative: RESA_INVALID_ARGUMENT). It bounds the
 * prompt plus the tokens generated (for GSR: the problem's and every
 * candidate's tokens, then the refinement's). */
resa_status resa_model_load(const char *package, const char *tokenizer, int64_t kv_pages,
                            resa_model **out);
/* NULL is allowed (nothing happens); cannot fail. */
void resa_model_free(resa_model *model);

/* Generates up to max_new_tokens (>= 0) after the prompt; temperature >= 0
 * (0: greedy), top_p in (0, 1]. */
resa_status resa_generate(resa_model *model, const char *prompt, int64_t max_new_tokens,
                          float temperature, float top_p, uint64_t seed, char **text);

/* Runs the GSR pipeline the package was compiled with; the result is JSON
 * (every candidate, its answer, the refinement prompt and answer, majority
 * and best-of-N answers, token counts and timings). */
resa_status resa_gsr(resa_model *model, const char *problem, uint64_t seed, char **json);

/* NULL is allowed; cannot fail. */
void resa_string_free(char *s);
/* The calling thread's last error ("" after a call that succeeded). */
const char *resa_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
