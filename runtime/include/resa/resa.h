/* The resa runtime's C API: load a compiled package and a tokenizer, then
 * generate text or run the package's GSR pipeline. Every call returns a
 * status; on RESA_ERROR, resa_last_error() says why (per thread). Strings
 * the library returns are freed with resa_string_free. A model may be used
 * by one thread at a time. */
#ifndef RESA_RESA_H
#define RESA_RESA_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { RESA_OK = 0, RESA_ERROR = 1 } resa_status;

typedef struct resa_model resa_model;

/* kv_pages: KV-cache capacity in pages (0: room for 32K tokens). */
resa_status resa_model_load(const char *package, const char *tokenizer, int64_t kv_pages,
                            resa_model **out);
void resa_model_free(resa_model *model);

/* Generates up to max_new_tokens after the prompt (temperature 0: greedy). */
resa_status resa_generate(resa_model *model, const char *prompt, int64_t max_new_tokens,
                          float temperature, float top_p, uint64_t seed, char **text);

/* Runs the GSR pipeline the package was compiled with; the result is JSON
 * (every candidate, its answer, the refinement prompt and answer, majority
 * and best-of-N answers, token counts and timings). */
resa_status resa_gsr(resa_model *model, const char *problem, uint64_t seed, char **json);

void resa_string_free(char *s);
const char *resa_last_error(void);

#ifdef __cplusplus
}
#endif

#endif
