/* Internal to the SDK: shared by tw.c (decoding, JSON, buffers) and tw_glue.c (bindings). */
#ifndef TW_INTERNAL_H
#define TW_INTERNAL_H

#include "tw.h"

struct tw_declaration {
    bool claims_set; /* false: every claim as one object */
    char **claims;
    size_t n_claims, cap_claims;
    bool client_metadata;
    bool props_set; /* false: any property */
    char **props;
    size_t n_props, cap_props;
};

/* The declaration in force (after a successful init). */
extern struct tw_declaration tw__declared;

/* Decode `len` bytes of the event encoding into `ev`. */
void tw__decode(const uint8_t *buf, size_t len, tw_event_t *ev);

/* Memory handed out for the current call (unescaped strings, tw_fmt), freed by the glue. */
void *tw__scratch(size_t n);
void tw__scratch_reset(void);

void tw__declaration_reset(struct tw_declaration *d);

/* Out of memory: logs and traps. */
_Noreturn void tw__oom(void);
void *tw__xmalloc(size_t n);
void *tw__xrealloc(void *p, size_t n);
char *tw__strndup(const char *s, size_t n);

/* A small printf for log lines: whether `fmt` uses only %s %.*s %c %d %i %u %x (with the
 * length modifiers h, hh, l, ll, z, j, t) and %%, without flags or widths; and the formatting
 * itself, as snprintf: cut to `cap - 1` bytes, NUL-terminated, returning the whole length. Anything else goes
 * through vsnprintf (musl's walks the format twice and costs ~3x the fuel). */
bool tw__fmt_simple(const char *fmt);
size_t tw__fmt(char *out, size_t cap, const char *fmt, va_list ap);

#endif
