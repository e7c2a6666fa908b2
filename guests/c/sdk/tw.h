/*
 * tw.h: the C SDK for tokenwatch listeners, contract tokenwatch:listener@0.2.0
 * (wit/listener.wit). A listener is a WebAssembly component notified of issued ID tokens and
 * access tokens: the sandboxed counterpart of Connect2id's IDTokenIssueEventListener /
 * AccessTokenIssueEventListener SPIs.
 *
 * A listener is one C file that defines the global `tw_listener`, a struct of function
 * pointers; every member may be NULL, which means the default:
 *
 *     #include "tw.h"
 *
 *     static void declare(tw_declaration_t *d) { tw_declare_claims(d, "sub,acr"); }
 *
 *     static void on_id_token(const tw_event_t *ev) {
 *         tw_str_t sub = tw_subject(ev), acr = tw_acr(ev);   // "alice", not "\"alice\""
 *         tw_info("sub=" TW_STR " acr=" TW_STR, TW_ARG(tw_or(sub, "-")), TW_ARG(tw_or(acr, "-")));
 *     }
 *
 *     const tw_listener_t tw_listener = { .declare = declare, .id_token_issued = on_id_token };
 *
 * It is built for the world that matches its handlers (sdk/tw-build.sh --world ...):
 * id-token-only (id_token_issued), access-token-only (access_token_issued) or all-tokens
 * (both). A listener whose handlers do not match its world fails init with a message that
 * says so. The SDK exports batch-listener for you (async mode): it calls the handler of each
 * event of a batch in turn, after batch.begin(i).
 *
 * Strings: the event's texts are not NUL-terminated. Everything the SDK hands out is a
 * tw_str_t (pointer + length) that points into the event, valid until the handler returns;
 * print it with printf("%.*s", TW_ARG(s)) (TW_STR is "%.*s"). A missing value has ptr NULL
 * (tw_has(s) is false); tw_or(s, "-") gives a default.
 *
 * Failures: tw_panic(fmt, ...) logs "panicked at FILE:LINE: MESSAGE" at error level and
 * traps; assert() and abort() do the same. The host shows that line as the trap's message,
 * loses only that call, and serves the next event with a fresh instance.
 */
#ifndef TW_H
#define TW_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- strings ------------------------------------------------------------------------- */

/* A string view: `len` bytes at `ptr` (no NUL terminator). ptr == NULL: absent. */
typedef struct {
    const char *ptr;
    size_t len;
} tw_str_t;

#define TW_STR "%.*s"
#define TW_ARG(s) (int)(s).len, ((s).ptr ? (s).ptr : "")

static inline bool tw_has(tw_str_t s) { return s.ptr != NULL; }
/* `s`, or the C string `dflt` when `s` is absent. */
tw_str_t tw_or(tw_str_t s, const char *dflt);
/* A view of a C string (NULL gives absent). */
tw_str_t tw_cstr(const char *s);
bool tw_str_eq(tw_str_t s, const char *cstr);

/* A growable, always NUL-terminated text buffer (for messages, JSON...). Zero-init it. */
typedef struct {
    char *ptr;
    size_t len, cap;
} tw_buf_t;

void tw_buf_clear(tw_buf_t *b);
void tw_buf_free(tw_buf_t *b);
void tw_buf_put(tw_buf_t *b, const char *s, size_t n);
void tw_buf_puts(tw_buf_t *b, const char *s);
void tw_buf_putc(tw_buf_t *b, char c);
void tw_buf_printf(tw_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append `s` as a JSON string, quotes included (`"`, `\` and controls escaped). */
void tw_buf_json_str(tw_buf_t *b, const char *s, size_t n);
static inline tw_str_t tw_buf_str(const tw_buf_t *b) { tw_str_t s = {b->ptr ? b->ptr : "", b->len}; return s; }

/* ---- the event ------------------------------------------------------------------------ */

/* One issued token and its context, decoded in place from the event encoding. The claims
 * are read with the functions below. Valid only during the handler call. */
typedef struct tw_event {
    tw_str_t issuer;          /* the issuer URL ("" when absent) */
    tw_str_t client_id;       /* the client's client_id; "" when unknown */
    tw_str_t local_subject;   /* ID tokens: the local subject when `sub` is pairwise; else absent */
    tw_str_t client_metadata; /* the client's RFC 7591 metadata (a JSON object) when declared */
    /* private */
    const uint8_t *claims_at;
    size_t claims_len;
} tw_event_t;

/* A claim's JSON text as issued ("\"alice\"", "1700000000", "[\"pwd\",\"otp\"]"); absent when
 * the token lacks it or the listener did not declare it (the first such read of an
 * instance logs a warning saying how to declare it). */
tw_str_t tw_get(const tw_event_t *ev, const char *name);
/* A string claim, unescaped ("a\"b" gives a"b); absent for another JSON type. Points into
 * the event, or (with escapes) into memory the SDK frees after the handler returns. */
tw_str_t tw_get_str(const tw_event_t *ev, const char *name);
/* An integer claim that fits int64 (no fraction or exponent). */
bool tw_get_i64(const tw_event_t *ev, const char *name, int64_t *out);
bool tw_get_bool(const tw_event_t *ev, const char *name, bool *out);
/* An array-of-strings claim: stores up to `max` unescaped items, returns how many the
 * array has, or -1 when the claim is absent or not an array of strings. */
int tw_get_strings(const tw_event_t *ev, const char *name, tw_str_t *items, int max);

tw_str_t tw_subject(const tw_event_t *ev);   /* sub */
tw_str_t tw_issuer_claim(const tw_event_t *ev); /* iss */
tw_str_t tw_acr(const tw_event_t *ev);       /* acr */
tw_str_t tw_scope(const tw_event_t *ev);     /* scope */
tw_str_t tw_jwt_id(const tw_event_t *ev);    /* jti */
tw_str_t tw_client_id_claim(const tw_event_t *ev); /* client_id (access tokens, RFC 9068) */
bool tw_issued_at(const tw_event_t *ev, int64_t *out);  /* iat */
bool tw_expires_at(const tw_event_t *ev, int64_t *out); /* exp */
bool tw_auth_time(const tw_event_t *ev, int64_t *out);  /* auth_time */
int tw_amr(const tw_event_t *ev, tw_str_t *items, int max); /* amr, as tw_get_strings */

/* The claims present as one JSON object: with all claims declared, the claims set exactly
 * as sent; otherwise the declared claims the token has, in declared order. */
tw_str_t tw_claims_json(const tw_event_t *ev);

/* Iterate over the names of the claims present: `size_t it = 0; tw_str_t name;
 * while (tw_claim_next(ev, &it, &name, &value)) ...` (value: the JSON text; may be NULL).
 * Names are raw (a name with escapes is left as written). */
bool tw_claim_next(const tw_event_t *ev, size_t *it, tw_str_t *name, tw_str_t *value);

/* ---- JSON helpers (for client_metadata, config values...) --------------------------- */

/* The member `name` of the JSON object `object` (its value's text), or absent. */
tw_str_t tw_json_member(tw_str_t object, const char *name);
tw_str_t tw_json_str(tw_str_t json);             /* as tw_get_str */
bool tw_json_i64(tw_str_t json, int64_t *out);   /* as tw_get_i64 */
bool tw_json_bool(tw_str_t json, bool *out);
int tw_json_strings(tw_str_t json, tw_str_t *items, int max);

/* ---- the declaration ------------------------------------------------------------------ */

/* What the listener reads and accepts, filled in `declare`. Untouched it means: every claim
 * (one JSON object), no client metadata, any property. */
typedef struct tw_declaration tw_declaration_t;

/* The handlers read this claim (and only the declared ones, in declaration order). */
void tw_declare_claim(tw_declaration_t *d, const char *name);
/* Several claims, comma-separated ("sub, iat,acr"): trimmed, empty items and repeats dropped. */
void tw_declare_claims(tw_declaration_t *d, const char *csv);
/* The next item of a comma-separated list, trimmed of spaces and tabs; empty items are
 * skipped. Advances *csv; false at the end. */
bool tw_csv_next(const char **csv, const char **item, size_t *len);
/* The handlers read no claim at all. */
void tw_declare_no_claims(tw_declaration_t *d);
/* The handlers read the client's metadata (ev->client_metadata). */
void tw_declare_client_metadata(tw_declaration_t *d);
/* The listener accepts this property key (the host warns about others). */
void tw_declare_property(tw_declaration_t *d, const char *key);
/* The listener accepts no property (the host warns about any). */
void tw_declare_no_properties(tw_declaration_t *d);

/* ---- properties (init) and config ------------------------------------------------------ */

typedef struct {
    const char *key, *value; /* NUL-terminated */
} tw_property_t;

typedef struct {
    const tw_property_t *items; /* sorted by key */
    size_t len;
} tw_properties_t;

/* One property's value, or NULL. */
const char *tw_property(const tw_properties_t *p, const char *key);

/* The config import: one property, malloc'd (free it), or NULL. */
char *tw_config_get(const char *key);

/* ---- the listener --------------------------------------------------------------------- */

typedef struct {
    /* Called once before any event. Return NULL on success, or a message that disables
     * the listener (shown to the operator); tw_fmt() builds one. */
    const char *(*init)(const tw_properties_t *properties);
    /* Right after a successful init: what the handlers read, what properties are accepted. */
    void (*declare)(tw_declaration_t *d);
    /* After a successful init; false means no events. Default: true. */
    bool (*is_enabled)(void);
    /* An ID token / an access token was issued. */
    void (*id_token_issued)(const tw_event_t *ev);
    void (*access_token_issued)(const tw_event_t *ev);
    /* Called once when the host shuts down. */
    void (*shutdown)(void);
} tw_listener_t;

/* Defined by the listener. */
extern const tw_listener_t tw_listener;

/* The index of the event being handled within the current batch (async mode), or -1 when
 * the event came in a call of its own. */
int tw_batch_index(void);

/* printf into memory the SDK frees after the current call (for init's error message). */
const char *tw_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- log ------------------------------------------------------------------------------ */

typedef enum { TW_TRACE, TW_DEBUG, TW_INFO, TW_WARN, TW_ERROR } tw_level_t;

void tw_log_str(tw_level_t level, const char *msg, size_t len);
void tw_vlog(tw_level_t level, const char *fmt, va_list ap);
void tw_log(tw_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#define tw_trace(...) tw_log(TW_TRACE, __VA_ARGS__)
#define tw_debug(...) tw_log(TW_DEBUG, __VA_ARGS__)
#define tw_info(...) tw_log(TW_INFO, __VA_ARGS__)
#define tw_warn(...) tw_log(TW_WARN, __VA_ARGS__)
#define tw_error(...) tw_log(TW_ERROR, __VA_ARGS__)

/* Log "panicked at FILE:LINE: MESSAGE" at error, then trap (the call is lost, the host
 * shows the line as the trap's message). */
#define tw_panic(...) tw_panic_at(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void tw_panic_at(const char *file, int line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* ---- signer --------------------------------------------------------------------------- */

typedef enum {
    TW_SIGN_OK,
    TW_SIGN_NO_KEY_CONFIGURED,
    TW_SIGN_REFUSED,              /* detail: the rule */
    TW_SIGN_QUOTA_EXCEEDED,
    TW_SIGN_TOO_LARGE,            /* cap: the host's cap in bytes */
    TW_SIGN_AUDIENCE_NOT_ALLOWED, /* detail: the audience */
} tw_sign_status_t;

typedef struct {
    tw_sign_status_t status;
    char *jws;    /* TW_SIGN_OK: the compact JWS, malloc'd (free it) */
    char *detail; /* malloc'd (free it) or NULL */
    uint32_t cap;
} tw_sign_result_t;

/* Sign a SET (claims: a JSON object with `events`...); audience NULL: all configured. */
tw_sign_result_t tw_sign_set(const char *claims_json, const char *audience);
const char *tw_sign_status_name(tw_sign_status_t s);

/* ---- publish -------------------------------------------------------------------------- */

typedef enum {
    TW_PUBLISH_OK,
    TW_PUBLISH_UNKNOWN_SINK,
    TW_PUBLISH_TOO_LARGE, /* *cap: the sink's cap in bytes */
    TW_PUBLISH_QUEUE_FULL,
} tw_publish_status_t;

/* Enqueue `len` bytes of `message` for the sink `sink`. `cap` may be NULL. */
tw_publish_status_t tw_publish(const char *sink, const char *message, size_t len, uint32_t *cap);
const char *tw_publish_status_name(tw_publish_status_t s);

/* ---- metrics -------------------------------------------------------------------------- */

typedef enum {
    TW_METRICS_OK,
    TW_METRICS_INVALID,
    TW_METRICS_TOO_MANY_SERIES,
    TW_METRICS_KIND_MISMATCH,
} tw_metrics_status_t;

/* labels: n_labels (key, value) pairs as a flat array {"k1", "v1", "k2", "v2"}. */
tw_metrics_status_t tw_counter_add(const char *name, const char *const *labels, size_t n_labels, uint64_t value);
tw_metrics_status_t tw_gauge_set(const char *name, const char *const *labels, size_t n_labels, double value);

#ifdef __cplusplus
}
#endif
#endif
