/* {{name}}: a tokenwatch listener in C (contract tokenwatch:listener@0.2.0, wit/listener.wit).
 *
 * Build:  ./build.sh              (prints where the .wasm is)
 * Try:    tokenwatch replay --config tokenwatch.toml events.ndjson
 *
 * The SDK is in sdk/ (read sdk/tw.h): the event, typed claim accessors (tw_subject,
 * tw_issued_at, tw_acr, tw_get...), log, config, signer, publish and metrics. Every member
 * of tw_listener below may be NULL (the default). This listener handles both kinds of token,
 * so build.sh builds it for the world all-tokens; keep one handler and change --world in
 * build.sh to id-token-only or access-token-only to handle one kind only.
 *
 * Rules of thumb: texts are tw_str_t (pointer + length, not NUL-terminated), valid until the
 * handler returns, printed with TW_STR / TW_ARG; copy what you keep. Don't use stdio
 * (printf, fopen): the host gives no files or stdout, and the build refuses WASI imports. To
 * fail loudly, tw_panic("...") (or assert): the message is logged, the call traps, and the
 * host serves the next event with a fresh instance. */
#include <inttypes.h>
#include <stdio.h>

#include "tw.h"

/* Called once before any event with the [listener.properties]. Return NULL, or an error
 * message that disables the listener (tw_fmt builds one). */
static const char *init(const tw_properties_t *properties) {
    const char *greeting = tw_property(properties, "greeting");
    tw_info("init greeting=%s", greeting ? greeting : "-");
    return NULL;
}

/* What the handlers read (the host hands over only these claims, in this order) and which
 * properties the listener accepts (the host warns about others). Without a declare function:
 * every claim as one JSON object, any property. */
static void declare(tw_declaration_t *d) {
    tw_declare_claims(d, "sub,iat,scope");
    tw_declare_property(d, "greeting");
}

/* Called after a successful init: false means no events. */
static bool is_enabled(void) { return true; }

/* An ID token was issued. */
static void id_token_issued(const tw_event_t *ev) {
    int64_t iat = 0;
    tw_issued_at(ev, &iat);
    tw_info("id token sub=" TW_STR " iat=%" PRId64 " client=" TW_STR, TW_ARG(tw_or(tw_subject(ev), "-")), iat,
            TW_ARG(ev->client_id));
}

/* An access token was issued. */
static void access_token_issued(const tw_event_t *ev) {
    tw_info("access token sub=" TW_STR " scope=" TW_STR, TW_ARG(tw_or(tw_subject(ev), "-")),
            TW_ARG(tw_or(tw_scope(ev), "-")));
}

/* Called once when the host shuts down. */
static void shutdown(void) {}

const tw_listener_t tw_listener = {
    .init = init,
    .declare = declare,
    .is_enabled = is_enabled,
    .id_token_issued = id_token_issued,
    .access_token_issued = access_token_issued,
    .shutdown = shutdown,
};
