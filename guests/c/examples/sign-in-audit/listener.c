/* Logs one line per issued ID token, like the SignInListener example of Connect2id's
 * IDTokenIssueEventListener SPI docs, and exactly like the Rust sign-in-audit:
 *
 *     sign-in sub=alice iat=1764331200 client=webapp acr=urn:c2id:acr:mfa amr=["pwd","otp"]
 *
 * It declares the four claims it reads and reads them in place; `-` stands for a missing
 * value. Built for the world id-token-only. */
#include <inttypes.h>

#include "tw.h"

static void declare(tw_declaration_t *d) {
    tw_declare_claims(d, "sub,iat,acr,amr");
    tw_declare_no_properties(d);
}

static void id_token_issued(const tw_event_t *ev) {
    int64_t t;
    const char *iat = tw_issued_at(ev, &t) ? tw_fmt("%" PRId64, t) : "-";
    tw_str_t client = ev->client_id.len ? ev->client_id : tw_cstr("-");
    tw_info("sign-in sub=" TW_STR " iat=%s client=" TW_STR " acr=" TW_STR " amr=" TW_STR,
            TW_ARG(tw_or(tw_subject(ev), "-")), iat, TW_ARG(client), TW_ARG(tw_or(tw_acr(ev), "-")),
            /* amr is shown as its JSON text: ["pwd","otp"] */
            TW_ARG(tw_or(tw_get(ev, "amr"), "-")));
}

const tw_listener_t tw_listener = {
    .declare = declare,
    .id_token_issued = id_token_issued,
};
