/* The C SDK's glue over the generated wit-bindgen 0.63.0 bindings of one world (chosen with
 * -DTW_WORLD_...): the exports call the listener's function pointers; the imports are
 * wrapped in plain C calls.
 *
 * Canonical ABI ownership, as the generated code expects:
 * - an export's arguments (the event list, the properties, the batch) are the callee's: freed
 *   here with the generated *_free before returning;
 * - an export's results (init's declaration or error) are freed by the generated post-return
 *   function, so they are malloc'd copies;
 * - an import's arguments stay ours (the host copies them), its results are ours to free.
 * Contract 0.2 passes no resource handles, so there is no borrow to drop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_internal.h"

#if defined(TW_WORLD_ID_TOKEN_ONLY)
#include "id_token_only.h"
#define W(x) id_token_only_##x
#define TW_HAS_ID 1
#define TW_HAS_ACCESS 0
#define TW_WORLD_NAME "id-token-only"
void __component_type_object_force_link_id_token_only(void) {}
#elif defined(TW_WORLD_ACCESS_TOKEN_ONLY)
#include "access_token_only.h"
#define W(x) access_token_only_##x
#define TW_HAS_ID 0
#define TW_HAS_ACCESS 1
#define TW_WORLD_NAME "access-token-only"
void __component_type_object_force_link_access_token_only(void) {}
#elif defined(TW_WORLD_ALL_TOKENS)
#include "all_tokens.h"
#define W(x) all_tokens_##x
#define TW_HAS_ID 1
#define TW_HAS_ACCESS 1
#define TW_WORLD_NAME "all-tokens"
void __component_type_object_force_link_all_tokens(void) {}
#else
#error "define one of TW_WORLD_ID_TOKEN_ONLY, TW_WORLD_ACCESS_TOKEN_ONLY, TW_WORLD_ALL_TOKENS (sdk/tw-build.sh --world)"
#endif

typedef W(string_t) string_t;

static string_t borrow(const char *s, size_t n) {
    string_t out = {(uint8_t *)s, n};
    return out;
}

static string_t owned(const char *s, size_t n) {
    string_t out = {(uint8_t *)tw__strndup(s, n), n};
    return out;
}

/* ---- log and panic ------------------------------------------------------------------------ */

void tw_log_str(tw_level_t level, const char *msg, size_t len) {
    string_t s = borrow(msg, len);
    tokenwatch_listener_log_log((tokenwatch_listener_log_level_t)level, &s);
}

void tw_vlog(tw_level_t level, const char *fmt, va_list ap) {
    if (tw__fmt_simple(fmt)) {
        /* The host cuts a line at 4 KiB: no need for more. */
        char line[4097];
        size_t n = tw__fmt(line, sizeof line, fmt, ap);
        tw_log_str(level, line, n < sizeof line ? n : sizeof line - 1);
        return;
    }
    char small[512];
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if ((size_t)n < sizeof small) {
        tw_log_str(level, small, (size_t)n);
    } else {
        /* The host cuts a line at 4 KiB: no need for more. */
        size_t cap = (size_t)n + 1 > 4097 ? 4097 : (size_t)n + 1;
        char *big = malloc(cap);
        if (big) {
            vsnprintf(big, cap, fmt, ap2);
            tw_log_str(level, big, cap - 1);
            free(big);
        } else {
            tw_log_str(level, small, sizeof small - 1);
        }
    }
    va_end(ap2);
}

void tw_log(tw_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    tw_vlog(level, fmt, ap);
    va_end(ap);
}

/* Built on the stack: the panic may come from a full heap. */
_Noreturn void tw_panic_at(const char *file, int line, const char *fmt, ...) {
    char msg[1024];
    int n = snprintf(msg, sizeof msg, "panicked at %s:%d: ", file, line);
    if (n < 0) n = 0;
    if ((size_t)n < sizeof msg) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, sizeof msg - (size_t)n, fmt, ap);
        va_end(ap);
    }
    tw_log_str(TW_ERROR, msg, strnlen(msg, sizeof msg));
    __builtin_trap();
}

/* assert() and abort() of wasi-libc would print to stderr (a WASI import) or trap without a
 * word: these definitions take their place at link time and log first. */
_Noreturn void __assert_fail(const char *expr, const char *file, int line, const char *func) {
    tw_panic_at(file, line, "assertion failed: %s (in %s)", expr, func);
}

_Noreturn void abort(void) {
    static const char msg[] = "panicked: abort() called";
    tw_log_str(TW_ERROR, msg, sizeof msg - 1);
    __builtin_trap();
}

/* ---- config ------------------------------------------------------------------------------- */

char *tw_config_get(const char *key) {
    string_t k = borrow(key, strlen(key)), value;
    if (!tokenwatch_listener_config_get(&k, &value)) return NULL;
    char *out = tw__strndup((const char *)value.ptr, value.len);
    W(string_free)(&value);
    return out;
}

/* ---- signer ------------------------------------------------------------------------------- */

tw_sign_result_t tw_sign_set(const char *claims_json, const char *audience) {
    tw_sign_result_t r = {0};
    string_t claims = borrow(claims_json, strlen(claims_json));
    string_t aud = audience ? borrow(audience, strlen(audience)) : borrow("", 0);
    string_t jws;
    tokenwatch_listener_signer_sign_error_t err;
    if (tokenwatch_listener_signer_sign_set(&claims, audience ? &aud : NULL, &jws, &err)) {
        r.status = TW_SIGN_OK;
        r.jws = tw__strndup((const char *)jws.ptr, jws.len);
        W(string_free)(&jws);
        return r;
    }
    switch (err.tag) {
    case TOKENWATCH_LISTENER_SIGNER_SIGN_ERROR_NO_KEY_CONFIGURED: r.status = TW_SIGN_NO_KEY_CONFIGURED; break;
    case TOKENWATCH_LISTENER_SIGNER_SIGN_ERROR_REFUSED:
        r.status = TW_SIGN_REFUSED;
        r.detail = tw__strndup((const char *)err.val.refused.ptr, err.val.refused.len);
        break;
    case TOKENWATCH_LISTENER_SIGNER_SIGN_ERROR_QUOTA_EXCEEDED: r.status = TW_SIGN_QUOTA_EXCEEDED; break;
    case TOKENWATCH_LISTENER_SIGNER_SIGN_ERROR_TOO_LARGE:
        r.status = TW_SIGN_TOO_LARGE;
        r.cap = err.val.too_large;
        break;
    case TOKENWATCH_LISTENER_SIGNER_SIGN_ERROR_AUDIENCE_NOT_ALLOWED:
        r.status = TW_SIGN_AUDIENCE_NOT_ALLOWED;
        r.detail = tw__strndup((const char *)err.val.audience_not_allowed.ptr, err.val.audience_not_allowed.len);
        break;
    }
    tokenwatch_listener_signer_sign_error_free(&err);
    return r;
}

/* ---- publish ------------------------------------------------------------------------------ */

tw_publish_status_t tw_publish(const char *sink, const char *message, size_t len, uint32_t *cap) {
    string_t s = borrow(sink, strlen(sink)), m = borrow(message, len);
    tokenwatch_listener_publish_publish_error_t err;
    if (tokenwatch_listener_publish_publish(&s, &m, &err)) return TW_PUBLISH_OK;
    tw_publish_status_t status = TW_PUBLISH_QUEUE_FULL;
    switch (err.tag) {
    case TOKENWATCH_LISTENER_PUBLISH_PUBLISH_ERROR_UNKNOWN_SINK: status = TW_PUBLISH_UNKNOWN_SINK; break;
    case TOKENWATCH_LISTENER_PUBLISH_PUBLISH_ERROR_TOO_LARGE:
        status = TW_PUBLISH_TOO_LARGE;
        if (cap) *cap = err.val.too_large;
        break;
    case TOKENWATCH_LISTENER_PUBLISH_PUBLISH_ERROR_QUEUE_FULL: status = TW_PUBLISH_QUEUE_FULL; break;
    }
    tokenwatch_listener_publish_publish_error_free(&err);
    return status;
}

/* ---- metrics ------------------------------------------------------------------------------ */

typedef W(list_tuple2_string_string_t) labels_t;

static labels_t labels_of(const char *const *labels, size_t n, W(tuple2_string_string_t) *store) {
    for (size_t i = 0; i < n; i++) {
        store[i].f0 = borrow(labels[2 * i], strlen(labels[2 * i]));
        store[i].f1 = borrow(labels[2 * i + 1], strlen(labels[2 * i + 1]));
    }
    labels_t l = {store, n};
    return l;
}

static tw_metrics_status_t metrics_status(tokenwatch_listener_metrics_metrics_error_t *err) {
    tw_metrics_status_t s = err->tag == TOKENWATCH_LISTENER_METRICS_METRICS_ERROR_INVALID           ? TW_METRICS_INVALID
                            : err->tag == TOKENWATCH_LISTENER_METRICS_METRICS_ERROR_TOO_MANY_SERIES ? TW_METRICS_TOO_MANY_SERIES
                                                                                                    : TW_METRICS_KIND_MISMATCH;
    tokenwatch_listener_metrics_metrics_error_free(err);
    return s;
}

tw_metrics_status_t tw_counter_add(const char *name, const char *const *labels, size_t n_labels, uint64_t value) {
    W(tuple2_string_string_t) store[8];
    if (n_labels > 8) n_labels = 8; /* the host allows at most 8 */
    string_t n = borrow(name, strlen(name));
    labels_t l = labels_of(labels, n_labels, store);
    tokenwatch_listener_metrics_metrics_error_t err;
    return tokenwatch_listener_metrics_counter_add(&n, &l, value, &err) ? TW_METRICS_OK : metrics_status(&err);
}

tw_metrics_status_t tw_gauge_set(const char *name, const char *const *labels, size_t n_labels, double value) {
    W(tuple2_string_string_t) store[8];
    if (n_labels > 8) n_labels = 8;
    string_t n = borrow(name, strlen(name));
    labels_t l = labels_of(labels, n_labels, store);
    tokenwatch_listener_metrics_metrics_error_t err;
    return tokenwatch_listener_metrics_gauge_set(&n, &l, value, &err) ? TW_METRICS_OK : metrics_status(&err);
}

/* ---- lifecycle ---------------------------------------------------------------------------- */

static bool live;  /* after a successful init, until shutdown */
static int batch_at = -1;

int tw_batch_index(void) { return batch_at; }

static W(list_string_t) string_list(char **items, size_t n) {
    W(list_string_t) l = {NULL, n};
    if (n) {
        l.ptr = tw__xmalloc(n * sizeof *l.ptr);
        for (size_t i = 0; i < n; i++) l.ptr[i] = owned(items[i], strlen(items[i]));
    }
    return l;
}

bool exports_tokenwatch_listener_lifecycle_init(W(list_tuple2_string_string_t) *properties,
                                                exports_tokenwatch_listener_lifecycle_declaration_t *ret, string_t *err) {
    tw__declaration_reset(&tw__declared);
    live = false;
    /* The properties as NUL-terminated strings, for the listener's init. */
    size_t n = properties->len;
    tw_property_t *items = tw__xmalloc((n ? n : 1) * sizeof *items);
    for (size_t i = 0; i < n; i++) {
        items[i].key = tw__strndup((const char *)properties->ptr[i].f0.ptr, properties->ptr[i].f0.len);
        items[i].value = tw__strndup((const char *)properties->ptr[i].f1.ptr, properties->ptr[i].f1.len);
    }
    W(list_tuple2_string_string_free)(properties);
    tw_properties_t props = {items, n};

    const char *problem = NULL;
    if (TW_HAS_ID && !tw_listener.id_token_issued)
        problem = "the listener was built for world " TW_WORLD_NAME " but has no id_token_issued handler: set it in tw_listener, or build for world access-token-only";
    else if (TW_HAS_ACCESS && !tw_listener.access_token_issued)
        problem = "the listener was built for world " TW_WORLD_NAME " but has no access_token_issued handler: set it in tw_listener, or build for world id-token-only";
    else if (!TW_HAS_ID && tw_listener.id_token_issued)
        problem = "the listener has an id_token_issued handler but was built for world " TW_WORLD_NAME ", which gets no ID tokens: build for world all-tokens";
    else if (!TW_HAS_ACCESS && tw_listener.access_token_issued)
        problem = "the listener has an access_token_issued handler but was built for world " TW_WORLD_NAME ", which gets no access tokens: build for world all-tokens";
    if (!problem && tw_listener.init) problem = tw_listener.init(&props);

    bool ok = problem == NULL;
    if (ok) {
        if (tw_listener.declare) tw_listener.declare(&tw__declared);
        struct tw_declaration *d = &tw__declared;
        ret->claims.is_some = d->claims_set;
        if (d->claims_set) ret->claims.val = string_list(d->claims, d->n_claims);
        ret->client_metadata = d->client_metadata;
        ret->properties.is_some = d->props_set;
        if (d->props_set) ret->properties.val = string_list(d->props, d->n_props);
        live = true;
    } else {
        *err = owned(problem, strlen(problem));
    }
    /* The listener keeps what it needs of the properties (tw_config_get reads them later). */
    for (size_t i = 0; i < n; i++) {
        free((void *)items[i].key);
        free((void *)items[i].value);
    }
    free(items);
    tw__scratch_reset();
    return ok;
}

bool exports_tokenwatch_listener_lifecycle_is_enabled(void) {
    bool enabled = live && (!tw_listener.is_enabled || tw_listener.is_enabled());
    tw__scratch_reset();
    return enabled;
}

void exports_tokenwatch_listener_lifecycle_shutdown(void) {
    if (live && tw_listener.shutdown) tw_listener.shutdown();
    live = false;
    tw__scratch_reset();
}

/* ---- events ------------------------------------------------------------------------------- */

typedef void (*handler_t)(const tw_event_t *);

static void handle(handler_t h, const uint8_t *buf, size_t len) {
    if (!live || !h) return; /* the host sends no event before a successful init */
    tw_event_t ev;
    tw__decode(buf, len, &ev);
    h(&ev);
    tw__scratch_reset();
}

#if TW_HAS_ID
void exports_tokenwatch_listener_id_token_listener_id_token_issued(W(list_u8_t) *event) {
    handle(tw_listener.id_token_issued, event->ptr, event->len);
    W(list_u8_free)(event);
}
#endif

#if TW_HAS_ACCESS
void exports_tokenwatch_listener_access_token_listener_access_token_issued(W(list_u8_t) *event) {
    handle(tw_listener.access_token_issued, event->ptr, event->len);
    W(list_u8_free)(event);
}
#endif

/* Async mode: tell the host event i starts (it arms that event's own budgets), then hand it
 * to the handler of its kind. A trap at event i loses only event i. */
void exports_tokenwatch_listener_batch_listener_tokens_issued(exports_tokenwatch_listener_batch_listener_list_issued_token_t *events) {
    for (size_t i = 0; i < events->len; i++) {
        exports_tokenwatch_listener_batch_listener_issued_token_t *t = &events->ptr[i];
        tokenwatch_listener_batch_begin((uint32_t)i);
        batch_at = (int)i;
        handler_t h = t->kind == EXPORTS_TOKENWATCH_LISTENER_BATCH_LISTENER_TOKEN_KIND_ID_TOKEN ? tw_listener.id_token_issued
                                                                                              : tw_listener.access_token_issued;
        handle(h, t->event.ptr, t->event.len);
    }
    batch_at = -1;
    exports_tokenwatch_listener_batch_listener_list_issued_token_free(events);
}
