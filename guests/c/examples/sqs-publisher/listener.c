/* Publishes one JSON message per issued ID token and access token to a sink: the C port of
 * the Rust sqs-publisher (the sandboxed counterpart of Connect2id's AWS SQS token event
 * publisher). Which queue, file or HTTP receiver the sink delivers to is the host's business;
 * this guest only builds the message and enqueues it. World all-tokens.
 *
 * Properties (the same as the Rust one's):
 * - sink (required): the name of a sink granted to this listener;
 * - claims: the claims to publish, comma-separated, in message order (default "sub,iat");
 *   trimmed, empty items dropped, repeats ignored; also the declared claims;
 * - include.<name>=<value>: adds the member <name> with the string <value> to every message,
 *   after the claims, by name. A listed claim of the same name wins: the include is skipped.
 *
 * With include.region=eu-1, an ID token for alice issued at 1523304728 gives
 *     {"sub":"alice","iat":1523304728,"region":"eu-1"}
 *
 * A failed publish is logged at warn the first time for each kind of failure, then only
 * counted; the counts are logged at shutdown. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tw.h"

#define INCLUDE "include."

typedef struct {
    char *name, *value;
} include_t;

static char *sink;
static char **claims;
static size_t n_claims;
static include_t *includes;
static size_t n_includes;
static tw_buf_t message;
/* Failed publishes by kind: unknown-sink, too-large, queue-full. */
static uint64_t failures[3];
static const char *const FAILURES[3] = {"unknown-sink", "too-large", "queue-full"};

static bool is_claim(const char *name) {
    for (size_t i = 0; i < n_claims; i++)
        if (strcmp(claims[i], name) == 0) return true;
    return false;
}

static int by_name(const void *a, const void *b) {
    const include_t *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

/* Split "a, b,,a" into trimmed, distinct names. */
static void parse_claims(const char *csv) {
    const char *item;
    size_t len;
    while (tw_csv_next(&csv, &item, &len)) {
        char *name = strndup(item, len);
        if (is_claim(name)) {
            free(name);
        } else {
            claims = realloc(claims, (n_claims + 1) * sizeof *claims);
            claims[n_claims++] = name;
        }
    }
}

static const char *init(const tw_properties_t *p) {
    const char *s = tw_property(p, "sink");
    while (s && (*s == ' ' || *s == '\t')) s++;
    size_t len = s ? strlen(s) : 0;
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (!len) return "sqs-publisher: property \"sink\" is required: the name of a sink granted to this listener";
    sink = strndup(s, len);

    const char *csv = tw_property(p, "claims");
    parse_claims(csv ? csv : "sub,iat");
    if (!n_claims)
        return "sqs-publisher: property \"claims\" names no claim: give a comma-separated list such as \"sub,iat\"";

    for (size_t i = 0; i < p->len; i++) {
        const char *key = p->items[i].key;
        if (strncmp(key, INCLUDE, strlen(INCLUDE)) != 0) continue;
        const char *name = key + strlen(INCLUDE);
        if (!*name) return tw_fmt("sqs-publisher: property \"%s\" names no member: write include.<name>=<value>", key);
        if (is_claim(name))
            tw_warn("property \"%s\" is skipped: \"%s\" is one of the claims, which wins", key, name);
        includes = realloc(includes, (n_includes + 1) * sizeof *includes);
        includes[n_includes].name = strdup(name);
        includes[n_includes].value = strdup(p->items[i].value);
        n_includes++;
    }
    /* Properties come sorted by key, hence by name; sorted again so as not to depend on it. */
    if (n_includes) qsort(includes, n_includes, sizeof *includes, by_name);

    tw_buf_t line = {0};
    for (size_t i = 0; i < n_claims; i++) tw_buf_printf(&line, "%s%s", i ? "," : "", claims[i]);
    tw_buf_puts(&line, " includes=");
    if (!n_includes) tw_buf_puts(&line, "-");
    for (size_t i = 0; i < n_includes; i++) tw_buf_printf(&line, "%s%s", i ? "," : "", includes[i].name);
    tw_info("init sink=%s claims=%s", sink, line.ptr);
    tw_buf_free(&line);
    return NULL;
}

static void declare(tw_declaration_t *d) {
    for (size_t i = 0; i < n_claims; i++) tw_declare_claim(d, claims[i]);
    tw_declare_property(d, "claims");
    tw_declare_property(d, "sink");
    tw_buf_t key = {0};
    for (size_t i = 0; i < n_includes; i++) {
        tw_buf_clear(&key);
        tw_buf_printf(&key, INCLUDE "%s", includes[i].name);
        tw_declare_property(d, key.ptr);
    }
    tw_buf_free(&key);
}

/* Starts the member `name` of the object being written. */
static void member(const char *name) {
    if (message.len > 1) tw_buf_putc(&message, ',');
    tw_buf_json_str(&message, name, strlen(name));
    tw_buf_putc(&message, ':');
}

static void publish(const tw_event_t *ev) {
    tw_buf_clear(&message);
    tw_buf_putc(&message, '{');
    for (size_t i = 0; i < n_claims; i++) {
        tw_str_t value = tw_get(ev, claims[i]);
        /* (Empty text is no JSON value; splicing it in would break the message.) */
        if (!value.ptr || !value.len) continue;
        member(claims[i]);
        tw_buf_put(&message, value.ptr, value.len);
    }
    for (size_t i = 0; i < n_includes; i++) {
        /* A listed claim wins over an include of the same name, even when the token lacks it. */
        if (is_claim(includes[i].name)) continue;
        member(includes[i].name);
        tw_buf_json_str(&message, includes[i].value, strlen(includes[i].value));
    }
    tw_buf_putc(&message, '}');

    uint32_t cap = 0;
    tw_publish_status_t status = tw_publish(sink, message.ptr, message.len, &cap);
    if (status == TW_PUBLISH_OK) return;
    int kind = status == TW_PUBLISH_UNKNOWN_SINK ? 0 : status == TW_PUBLISH_TOO_LARGE ? 1 : 2;
    if (++failures[kind] != 1) return;
    const char *why = kind == 0   ? "no sink of that name is granted to this listener"
                      : kind == 1 ? tw_fmt("the message has %zu bytes, the sink takes at most %" PRIu32, message.len, cap)
                                  : "the sink's queue is full, the message was dropped";
    tw_warn("publish to sink \"%s\" failed: %s (%s); further %s failures are only counted until shutdown", sink,
            FAILURES[kind], why, FAILURES[kind]);
}

static void shutdown(void) {
    uint64_t total = failures[0] + failures[1] + failures[2];
    if (!total) return;
    tw_buf_t counts = {0};
    for (int k = 0; k < 3; k++)
        if (failures[k]) tw_buf_printf(&counts, "%s%s=%" PRIu64, counts.len ? " " : "", FAILURES[k], failures[k]);
    tw_warn("%" PRIu64 " messages not published to sink \"%s\": %s", total, sink, counts.ptr);
    tw_buf_free(&counts);
}

const tw_listener_t tw_listener = {
    .init = init,
    .declare = declare,
    .id_token_issued = publish,
    .access_token_issued = publish,
    .shutdown = shutdown,
};
