/* Unit tests of the SDK's portable part (tw.c: the event encoding, JSON, buffers, the
 * declaration), built natively (or as wasm32-wasi by zig, run nowhere) and run by
 * scripts/build-guests-c.sh: `cc -Isdk sdk/tw.c sdk/test/decode_test.c && ./a.out`.
 * The log import is stubbed: warnings are recorded. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tw_internal.h"

static int failures;
static char last_log[4096];
static int logs;

void tw_log_str(tw_level_t level, const char *msg, size_t len) {
    (void)level;
    snprintf(last_log, sizeof last_log, "%.*s", (int)len, msg);
    logs++;
}
void tw_log(tw_level_t level, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char buf[4096];
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    tw_log_str(level, buf, (size_t)n);
}

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                          \
        }                                                                        \
    } while (0)
#define CHECK_STR(s, want) CHECK(tw_str_eq((s), (want)))

/* The host's side of the encoding: NULL is absent. */
static size_t encode(uint8_t *out, const char *const *fields, size_t n) {
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = fields[i] ? (uint32_t)strlen(fields[i]) : 0xffffffffu;
        for (int b = 0; b < 4; b++) out[at++] = (uint8_t)(len >> (8 * b));
        if (fields[i]) {
            memcpy(out + at, fields[i], len);
            at += len;
        }
    }
    return at;
}

static void declare(const char *csv) {
    tw__declaration_reset(&tw__declared);
    if (csv) tw_declare_claims(&tw__declared, csv);
}

static void declared_claims(void) {
    declare("sub, iat,acr,amr,,big,esc,aud,sub");
    CHECK(tw__declared.n_claims == 7); /* trimmed, empty and repeated dropped */
    const char *f[] = {"https://c2id.example.com", "client-123", NULL, NULL, "\"alice\"", "1700000000", NULL,
                       "[\"pwd\",\"otp\"]", "123456789012345678901234567890", "\"a\\\"b\\u00e9\\ud83d\\ude00\"", "\"rp\""};
    uint8_t buf[512];
    size_t len = encode(buf, f, 11);
    tw_event_t ev;
    tw__decode(buf, len, &ev);
    CHECK_STR(ev.issuer, "https://c2id.example.com");
    CHECK_STR(ev.client_id, "client-123");
    CHECK(!tw_has(ev.local_subject) && !tw_has(ev.client_metadata));
    CHECK_STR(tw_get(&ev, "sub"), "\"alice\"");
    CHECK_STR(tw_subject(&ev), "alice");
    int64_t iat = 0;
    CHECK(tw_issued_at(&ev, &iat) && iat == 1700000000);
    CHECK(!tw_has(tw_acr(&ev)));
    CHECK_STR(tw_get(&ev, "amr"), "[\"pwd\",\"otp\"]");
    tw_str_t amr[4];
    CHECK(tw_amr(&ev, amr, 4) == 2);
    CHECK_STR(amr[0], "pwd");
    CHECK_STR(amr[1], "otp");
    int64_t big;
    CHECK(!tw_get_i64(&ev, "big", &big));
    CHECK_STR(tw_get_str(&ev, "esc"), "a\"b\xc3\xa9\xf0\x9f\x98\x80");
    CHECK(!tw_has(tw_get_str(&ev, "amr"))); /* another JSON type */
    CHECK_STR(tw_claims_json(&ev),
              "{\"sub\":\"alice\",\"iat\":1700000000,\"amr\":[\"pwd\",\"otp\"],\"big\":123456789012345678901234567890,"
              "\"esc\":\"a\\\"b\\u00e9\\ud83d\\ude00\",\"aud\":\"rp\"}");
    CHECK(logs == 0);
    /* An undeclared claim: absent, and one warning per instance. */
    CHECK(!tw_has(tw_get(&ev, "email")));
    CHECK(!tw_has(tw_get(&ev, "nonce")));
    CHECK(logs == 1 && strstr(last_log, "claim \"email\" was not declared") == last_log);
    tw__scratch_reset();
}

static void whole_object(void) {
    declare(NULL);
    const char *object = "{\"sub\":\"alice\",\"n\\u0061me\":\"escaped\",\"nested\":{\"sub\":\"inner\",\"a\":[1,{\"b\":\"]}\"}]},"
                         "\"e\":1e2,\"aud\":[\"rp1\",\"rp2\"],\"iat\":1700000000,\"email_verified\":true,\"neg\":-12}";
    const char *f[] = {"https://op", "", "local-7", "{\"client_name\":\"x\"}", object};
    uint8_t buf[512];
    size_t len = encode(buf, f, 5);
    tw_event_t ev;
    tw__decode(buf, len, &ev);
    CHECK_STR(ev.client_id, "");
    CHECK_STR(ev.local_subject, "local-7");
    CHECK_STR(tw_json_member(ev.client_metadata, "client_name"), "\"x\"");
    CHECK_STR(tw_get(&ev, "sub"), "\"alice\"");
    CHECK_STR(tw_get(&ev, "name"), "\"escaped\"");
    CHECK_STR(tw_get(&ev, "nested"), "{\"sub\":\"inner\",\"a\":[1,{\"b\":\"]}\"}]}");
    CHECK(!tw_has(tw_get(&ev, "a"))); /* top-level members only */
    CHECK_STR(tw_get(&ev, "e"), "1e2");
    bool v = false;
    CHECK(tw_get_bool(&ev, "email_verified", &v) && v);
    int64_t n = 0;
    CHECK(tw_get_i64(&ev, "neg", &n) && n == -12);
    CHECK(tw_get_strings(&ev, "aud", NULL, 0) == 2);
    CHECK(tw_claims_json(&ev).ptr == object + 0 || tw_str_eq(tw_claims_json(&ev), object));
    size_t it = 0, count = 0;
    tw_str_t name, value;
    while (tw_claim_next(&ev, &it, &name, &value)) count++;
    CHECK(count == 8);
    CHECK(logs == 1); /* no new warning: every claim is declared */
    tw__scratch_reset();
}

static void malformed(void) {
    declare("sub,iat");
    const char *f[] = {"https://c2id.example.com", "client-123", NULL, NULL, "\"alice\"", "1700000000"};
    uint8_t buf[256];
    size_t full = encode(buf, f, 6);
    for (size_t cut = 0; cut < full; cut++) {
        tw_event_t ev;
        tw__decode(buf, cut, &ev);
        int64_t iat;
        (void)tw_get(&ev, "sub");
        (void)tw_claims_json(&ev);
        CHECK(!tw_issued_at(&ev, &iat));
        if (cut < 4 + strlen(f[0])) CHECK_STR(ev.issuer, "");
        tw__scratch_reset();
    }
    /* A length past the end. */
    uint8_t longer[64];
    size_t at = encode(longer, f, 1);
    longer[at++] = 0xe8;
    longer[at++] = 0x03;
    longer[at++] = 0;
    longer[at++] = 0;
    memcpy(longer + at, "client", 6);
    tw_event_t ev;
    tw__decode(longer, at + 6, &ev);
    CHECK_STR(ev.issuer, "https://c2id.example.com");
    CHECK_STR(ev.client_id, "");
    CHECK_STR(tw_claims_json(&ev), "{}");
    tw__decode(NULL, 0, &ev);
    CHECK_STR(tw_claims_json(&ev), "{}");
    /* Malformed JSON values read as absent. */
    CHECK(!tw_has(tw_json_str(tw_cstr("\"unterminated"))));
    CHECK(!tw_has(tw_json_str(tw_cstr("\"\\ud800\""))));
    CHECK(!tw_has(tw_json_str(tw_cstr("\"a\" x"))));
    int64_t i;
    CHECK(!tw_json_i64(tw_cstr("01"), &i) && !tw_json_i64(tw_cstr("1.0"), &i) && !tw_json_i64(tw_cstr("9223372036854775808"), &i));
    CHECK(tw_json_i64(tw_cstr(" -9223372036854775808 "), &i) && i == INT64_MIN);
    CHECK(tw_json_strings(tw_cstr("[\"a\",1]"), NULL, 0) == -1 && tw_json_strings(tw_cstr("[ ]"), NULL, 0) == 0);
    tw__scratch_reset();
}

static void buffers(void) {
    tw_buf_t b = {0};
    tw_buf_json_str(&b, "say \"hi\" C:\\tmp\n\x01", 17);
    CHECK(strcmp(b.ptr, "\"say \\\"hi\\\" C:\\\\tmp\\u000a\\u0001\"") == 0);
    tw_buf_clear(&b);
    tw_buf_printf(&b, "%d-%s", 42, "x");
    tw_buf_putc(&b, '!');
    CHECK(strcmp(b.ptr, "42-x!") == 0 && b.len == 5);
    tw_buf_free(&b);
}

static size_t fmt(char *out, size_t cap, const char *f, ...) {
    va_list ap;
    va_start(ap, f);
    size_t n = tw__fmt(out, cap, f, ap);
    va_end(ap);
    return n;
}

/* The small printf agrees with vsnprintf on what it takes, and refuses the rest. */
static void small_printf(void) {
    char a[256], b[256];
    const char *f = "s=%s p=%.*s c=%c d=%d i=%i u=%u x=%x ld=%ld lld=%lld llu=%llu zu=%zu hd=%hd hhu=%hhu j=%jd %%";
    size_t n = fmt(a, sizeof a, f, "str", 3, "abcdef", 'Z', -42, INT32_MIN, 4000000000u, 0xbeefu, -7L, (long long)INT64_MIN,
                   (unsigned long long)UINT64_MAX, (size_t)12345, (short)-3, (unsigned char)250, (intmax_t)-1);
    snprintf(b, sizeof b, f, "str", 3, "abcdef", 'Z', -42, INT32_MIN, 4000000000u, 0xbeefu, -7L, (long long)INT64_MIN,
             (unsigned long long)UINT64_MAX, (size_t)12345, (short)-3, (unsigned char)250, (intmax_t)-1);
    CHECK(tw__fmt_simple(f));
    CHECK(strcmp(a, b) == 0 && n == strlen(b));
    if (strcmp(a, b) != 0) fprintf(stderr, "  %s\n  %s\n", a, b);
    CHECK(fmt(a, 6, "%s", "abcdefgh") == 8 && strcmp(a, "abcde") == 0);
    CHECK(fmt(NULL, 0, "%d-%s", 42, "x") == 4);
    CHECK(strcmp(tw_fmt("%d %s %.*s", -1, "a", 2, "bcd"), "-1 a bc") == 0 && strcmp(tw_fmt("%5.1f", 2.25), "  2.2") == 0);
    CHECK(tw__fmt_simple("plain") && tw__fmt_simple("%" PRId64 " %" PRIu64 " %zu"));
    CHECK(!tw__fmt_simple("%5d") && !tw__fmt_simple("%f") && !tw__fmt_simple("%-s") && !tw__fmt_simple("%p") &&
          !tw__fmt_simple("%.3s") && !tw__fmt_simple("%"));
}

int main(void) {
    small_printf();
    declared_claims();
    whole_object();
    malformed();
    buffers();
    if (failures) {
        fprintf(stderr, "decode_test: %d checks failed\n", failures);
        return 1;
    }
    printf("decode_test: ok\n");
    return 0;
}
