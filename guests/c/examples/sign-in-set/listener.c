/* Connect2id's documented SET example, the C port of the Rust sign-in-set: on each issued ID
 * token, build a Security Event Token (RFC 8417) holding one CAEP `session-established`
 * event, have the host sign it (the key never enters this guest) and publish it to the sink
 * `set`. While no such sink is configured, the signed SET is logged at info. World
 * id-token-only.
 *
 * The SET content this guest supplies (the host adds iss, iat, jti and aud):
 *     {"events":{"https://schemas.openid.net/secevent/caep/event-type/session-established":{
 *       "subject":{"format":"iss_sub","iss":"<issuer>","sub":"<sub>"},
 *       "event_timestamp":<iat>,"client_id":"<client>","acr":"<acr>","amr":[...]}}} */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tw.h"

#define SESSION_ESTABLISHED "https://schemas.openid.net/secevent/caep/event-type/session-established"

static tw_buf_t content;

static void declare(tw_declaration_t *d) {
    tw_declare_claims(d, "sub,iat,azp,aud,acr,amr");
    tw_declare_no_properties(d);
}

/* The client: the context's client_id, else the azp claim, else the first audience. */
static void put_client(tw_buf_t *b, const tw_event_t *ev) {
    if (ev->client_id.len > 0) {
        tw_buf_puts(b, ",\"client_id\":");
        tw_buf_json_str(b, ev->client_id.ptr, ev->client_id.len);
        return;
    }
    tw_str_t client = tw_get(ev, "azp");
    tw_str_t aud[1];
    if (!client.ptr && tw_get_strings(ev, "aud", aud, 1) >= 1) {
        tw_buf_puts(b, ",\"client_id\":");
        tw_buf_json_str(b, aud[0].ptr, aud[0].len);
    } else if (client.ptr) {
        tw_buf_printf(b, ",\"client_id\":" TW_STR, TW_ARG(client)); /* JSON text as issued */
    }
}

static void id_token_issued(const tw_event_t *ev) {
    tw_str_t sub = tw_get(ev, "sub");
    if (!sub.ptr) {
        tw_warn("ID token without sub: no SET");
        return;
    }
    tw_buf_t *b = &content;
    tw_buf_clear(b);
    /* Claim values come as JSON text: spliced in as they are. */
    tw_buf_puts(b, "{\"events\":{\"" SESSION_ESTABLISHED "\":{\"subject\":{\"format\":\"iss_sub\",\"iss\":");
    tw_buf_json_str(b, ev->issuer.ptr, ev->issuer.len);
    tw_buf_printf(b, ",\"sub\":" TW_STR "}", TW_ARG(sub));
    int64_t iat;
    if (tw_issued_at(ev, &iat)) tw_buf_printf(b, ",\"event_timestamp\":%" PRId64, iat);
    put_client(b, ev);
    const char *const names[] = {"acr", "amr"};
    for (int i = 0; i < 2; i++) {
        tw_str_t v = tw_get(ev, names[i]);
        if (v.ptr) tw_buf_printf(b, ",\"%s\":" TW_STR, names[i], TW_ARG(v));
    }
    tw_buf_puts(b, "}}}");
    tw_buf_putc(b, '\0');

    tw_sign_result_t signed_set = tw_sign_set(b->ptr, NULL);
    if (signed_set.status != TW_SIGN_OK) {
        if (signed_set.detail)
            tw_warn("SET not signed: %s: %s", tw_sign_status_name(signed_set.status), signed_set.detail);
        else
            tw_warn("SET not signed: %s", tw_sign_status_name(signed_set.status));
        free(signed_set.detail);
        return;
    }
    tw_publish_status_t published = tw_publish("set", signed_set.jws, strlen(signed_set.jws), NULL);
    if (published == TW_PUBLISH_UNKNOWN_SINK)
        tw_info("SET %s", signed_set.jws);
    else if (published != TW_PUBLISH_OK)
        tw_warn("SET not published: %s", tw_publish_status_name(published));
    free(signed_set.jws);
    free(signed_set.detail);
}

const tw_listener_t tw_listener = {
    .declare = declare,
    .id_token_issued = id_token_issued,
};
