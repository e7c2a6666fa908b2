/* A test listener (world id-token-only) that traps on purpose, for the containment and
 * batch tests (tests/lang_c.rs). Per ID token it logs
 *
 *     ok sub=<sub> batch=<index in the batch, -1 outside one>
 *
 * except for the token whose `sub` equals the property `trap_sub`: there it fails the way the
 * property `how` says: `panic` (default, tw_panic), `assert` (a failed assert()) or `abort`.
 * With the property `claims` = `all` it declares no claim list: the event carries the whole
 * claims set as one object, and `sub` is read out of it. Each event it serves adds 1 to the
 * counter `c_trap_events_total{how="<how>"}` (the metrics import); init reads `how` back
 * through the config import and fails when it differs from init's properties. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "tw.h"

static char *trap_sub;
static const char *how = "panic";
static bool all_claims;

static const char *init(const tw_properties_t *p) {
    const char *s = tw_property(p, "trap_sub");
    trap_sub = s ? strdup(s) : NULL;
    const char *claims = tw_property(p, "claims");
    all_claims = claims && strcmp(claims, "all") == 0;
    const char *h = tw_property(p, "how");
    if (h) {
        if (strcmp(h, "panic") && strcmp(h, "assert") && strcmp(h, "abort"))
            return tw_fmt("c-trap: property \"how\" must be panic, assert or abort, got \"%s\"", h);
        how = strcmp(h, "panic") == 0 ? "panic" : strcmp(h, "assert") == 0 ? "assert" : "abort";
    }
    char *again = tw_config_get("how");
    bool same = (!h && !again) || (h && again && strcmp(h, again) == 0);
    free(again);
    if (!same) return "c-trap: the config import disagrees with init's properties";
    return NULL;
}

static void declare(tw_declaration_t *d) {
    if (!all_claims) tw_declare_claim(d, "sub");
    tw_declare_property(d, "trap_sub");
    tw_declare_property(d, "how");
    tw_declare_property(d, "claims");
}

static void id_token_issued(const tw_event_t *ev) {
    tw_str_t sub = tw_or(tw_subject(ev), "-");
    if (trap_sub && tw_str_eq(sub, trap_sub)) {
        if (strcmp(how, "assert") == 0) {
            assert(sub.len == 0 && "no trap subject");
        } else if (strcmp(how, "abort") == 0) {
            abort();
        }
        tw_panic("cannot handle sub " TW_STR, TW_ARG(sub));
    }
    tw_info("ok sub=" TW_STR " batch=%d", TW_ARG(sub), tw_batch_index());
    const char *labels[] = {"how", how};
    if (tw_counter_add("c_trap_events_total", labels, 1, 1) != TW_METRICS_OK) tw_panic("counter_add refused");
}

const tw_listener_t tw_listener = {
    .init = init,
    .declare = declare,
    .id_token_issued = id_token_issued,
};
