/* The C SDK's portable part: the event encoding, the little JSON a listener needs, text
 * buffers and the declaration. No binding types here (see tw_glue.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tw_internal.h"

/* ---- memory ---------------------------------------------------------------------------- */

_Noreturn void tw__oom(void) {
    static const char msg[] = "out of memory";
    tw_log_str(TW_ERROR, msg, sizeof msg - 1);
    __builtin_trap();
}

void *tw__xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) tw__oom();
    return p;
}

void *tw__xrealloc(void *p, size_t n) {
    p = realloc(p, n ? n : 1);
    if (!p) tw__oom();
    return p;
}

char *tw__strndup(const char *s, size_t n) {
    char *d = tw__xmalloc(n + 1);
    if (n) memcpy(d, s, n);
    d[n] = 0;
    return d;
}

static void **scratch;
static size_t n_scratch, cap_scratch;

void *tw__scratch(size_t n) {
    if (n_scratch == cap_scratch) {
        cap_scratch = cap_scratch ? cap_scratch * 2 : 8;
        scratch = tw__xrealloc(scratch, cap_scratch * sizeof *scratch);
    }
    return scratch[n_scratch++] = tw__xmalloc(n);
}

void tw__scratch_reset(void) {
    for (size_t i = 0; i < n_scratch; i++) free(scratch[i]);
    n_scratch = 0;
}

/* ---- a small printf ------------------------------------------------------------------------ */

/* The conversion at `p` (after '%'): its length modifier ('l' 'L'(ll) 'z' 'h' 'H'(hh) 'j' 't'
 * or 0), whether it has ".*", and its letter; NULL when unsupported. */
static const char *spec(const char *p, char *mod, bool *star, char *conv) {
    *star = false;
    *mod = 0;
    if (p[0] == '.' && p[1] == '*') {
        *star = true;
        p += 2;
    }
    if (p[0] == 'l' && p[1] == 'l') *mod = 'L', p += 2;
    else if (p[0] == 'h' && p[1] == 'h') *mod = 'H', p += 2;
    else if (*p == 'l' || *p == 'z' || *p == 'h' || *p == 'j' || *p == 't') *mod = *p++;
    *conv = *p;
    switch (*p) {
    case 's': return (*mod == 0) ? p + 1 : NULL;
    case 'c': case '%': return (*mod == 0 && !*star) ? p + 1 : NULL;
    case 'd': case 'i': case 'u': case 'x': return *star ? NULL : p + 1;
    default: return NULL;
    }
}

bool tw__fmt_simple(const char *fmt) {
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') continue;
        char mod, conv;
        bool star;
        const char *next = spec(p + 1, &mod, &star, &conv);
        if (!next) return false;
        p = next - 1;
    }
    return true;
}

size_t tw__fmt(char *out, size_t cap, const char *fmt, va_list ap) {
    size_t n = 0;
    /* (PUT's argument is evaluated only when it fits: no side effects in it.) */
#define PUT(ch) do { if (n + 1 < cap) out[n] = (ch); n++; } while (0)
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            PUT(*p);
            continue;
        }
        char mod, conv;
        bool star;
        p = spec(p + 1, &mod, &star, &conv) - 1;
        if (conv == '%') {
            PUT('%');
        } else if (conv == 'c') {
            char ch = (char)va_arg(ap, int);
            PUT(ch);
        } else if (conv == 's') {
            int prec = star ? va_arg(ap, int) : -1;
            const char *s = va_arg(ap, const char *);
            if (!s) s = "(null)";
            for (size_t i = 0; (prec < 0 || i < (size_t)prec) && s[i]; i++) PUT(s[i]);
        } else {
            unsigned long long u;
            bool neg = false;
            if (conv == 'd' || conv == 'i') {
                long long v = mod == 'L' || mod == 'j' ? va_arg(ap, long long)
                              : mod == 'l'              ? va_arg(ap, long)
                              : mod == 'z' || mod == 't' ? (long long)va_arg(ap, ptrdiff_t)
                              : mod == 'h'              ? (short)va_arg(ap, int)
                              : mod == 'H'              ? (signed char)va_arg(ap, int)
                                                        : va_arg(ap, int);
                neg = v < 0;
                u = neg ? 0ull - (unsigned long long)v : (unsigned long long)v;
            } else {
                u = mod == 'L' || mod == 'j' ? va_arg(ap, unsigned long long)
                    : mod == 'l'              ? va_arg(ap, unsigned long)
                    : mod == 'z' || mod == 't' ? va_arg(ap, size_t)
                    : mod == 'h'              ? (unsigned short)va_arg(ap, unsigned)
                    : mod == 'H'              ? (unsigned char)va_arg(ap, unsigned)
                                              : va_arg(ap, unsigned);
            }
            unsigned base = conv == 'x' ? 16 : 10;
            char digits[24];
            int k = 0;
            do {
                digits[k++] = "0123456789abcdef"[u % base];
                u /= base;
            } while (u);
            if (neg) PUT('-');
            while (k > 0) {
                k--;
                PUT(digits[k]);
            }
        }
    }
#undef PUT
    if (cap) out[n < cap ? n : cap - 1] = 0;
    return n;
}

/* snprintf, through the small printf when it can. */
static int vformat(char *out, size_t cap, const char *fmt, va_list ap) {
    if (tw__fmt_simple(fmt)) return (int)tw__fmt(out, cap, fmt, ap);
    return vsnprintf(out, cap, fmt, ap);
}

const char *tw_fmt(const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vformat(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) n = 0;
    char *out = tw__scratch((size_t)n + 1);
    vformat(out, (size_t)n + 1, fmt, ap2);
    va_end(ap2);
    return out;
}

/* ---- strings and buffers --------------------------------------------------------------- */

tw_str_t tw_or(tw_str_t s, const char *dflt) { return s.ptr ? s : tw_cstr(dflt); }

tw_str_t tw_cstr(const char *s) {
    tw_str_t out = {s, s ? strlen(s) : 0};
    return out;
}

bool tw_str_eq(tw_str_t s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.ptr && s.len == n && memcmp(s.ptr, cstr, n) == 0;
}

static void buf_reserve(tw_buf_t *b, size_t more) {
    if (b->len + more + 1 <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + more + 1) cap *= 2;
    b->ptr = tw__xrealloc(b->ptr, cap);
    b->cap = cap;
}

void tw_buf_clear(tw_buf_t *b) {
    b->len = 0;
    if (b->ptr) b->ptr[0] = 0;
}

void tw_buf_free(tw_buf_t *b) {
    free(b->ptr);
    b->ptr = NULL;
    b->len = b->cap = 0;
}

void tw_buf_put(tw_buf_t *b, const char *s, size_t n) {
    buf_reserve(b, n);
    if (n) memcpy(b->ptr + b->len, s, n);
    b->len += n;
    b->ptr[b->len] = 0;
}

void tw_buf_puts(tw_buf_t *b, const char *s) { tw_buf_put(b, s, strlen(s)); }

void tw_buf_putc(tw_buf_t *b, char c) { tw_buf_put(b, &c, 1); }

void tw_buf_printf(tw_buf_t *b, const char *fmt, ...) {
    va_list ap, ap2;
    va_start(ap, fmt);
    va_copy(ap2, ap);
    int n = vformat(NULL, 0, fmt, ap);
    va_end(ap);
    if (n > 0) {
        buf_reserve(b, (size_t)n);
        vformat(b->ptr + b->len, (size_t)n + 1, fmt, ap2);
        b->len += (size_t)n;
    }
    va_end(ap2);
}

void tw_buf_json_str(tw_buf_t *b, const char *s, size_t n) {
    static const char hex[] = "0123456789abcdef";
    tw_buf_putc(b, '"');
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c != '"' && c != '\\' && c >= 0x20) continue;
        tw_buf_put(b, s + from, i - from);
        from = i + 1;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            tw_buf_put(b, esc, 2);
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            tw_buf_put(b, esc, 6);
        }
    }
    tw_buf_put(b, s + from, n - from);
    tw_buf_putc(b, '"');
}

/* ---- the event encoding ------------------------------------------------------------------
 * event = issuer client-id local-subject client-metadata claims
 * field = len:u32le bytes[len] | 0xffffffff (absent)
 * claims = field * N (declared, in order) | field (whole object)
 * A field cut short reads as absent, and so does everything after it. */

#define ABSENT 0xffffffffu

static const uint8_t *field(const uint8_t *p, const uint8_t *end, tw_str_t *out) {
    out->ptr = NULL;
    out->len = 0;
    if (!p || end - p < 4) return NULL;
    uint32_t len = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    p += 4;
    if (len == ABSENT) return p;
    if ((size_t)(end - p) < len) return NULL;
    out->ptr = (const char *)p;
    out->len = len;
    return p + len;
}

void tw__decode(const uint8_t *buf, size_t len, tw_event_t *ev) {
    const uint8_t *end = buf + len, *p = buf;
    p = field(p, end, &ev->issuer);
    p = field(p, end, &ev->client_id);
    p = field(p, end, &ev->local_subject);
    p = field(p, end, &ev->client_metadata);
    if (!ev->issuer.ptr) ev->issuer = tw_cstr("");
    if (!ev->client_id.ptr) ev->client_id = tw_cstr("");
    ev->claims_at = p;
    ev->claims_len = p ? (size_t)(end - p) : 0;
}

/* ---- JSON ------------------------------------------------------------------------------- */

typedef struct {
    const char *p, *end;
} cur_t;

static void ws(cur_t *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

/* Skip a JSON string starting at the quote; false when malformed. */
static bool skip_string(cur_t *c) {
    if (c->p >= c->end || *c->p != '"') return false;
    for (c->p++; c->p < c->end; c->p++) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            c->p++;
            return true;
        }
        if (ch < 0x20) return false;
        if (ch == '\\') {
            c->p++;
            if (c->p >= c->end) return false;
        }
    }
    return false;
}

/* Skip one JSON value (nested structures included); false when malformed. */
static bool skip_value(cur_t *c, int depth) {
    ws(c);
    if (c->p >= c->end || depth > 128) return false;
    char ch = *c->p;
    if (ch == '"') return skip_string(c);
    if (ch == '{' || ch == '[') {
        char close = ch == '{' ? '}' : ']';
        c->p++;
        ws(c);
        if (c->p < c->end && *c->p == close) {
            c->p++;
            return true;
        }
        for (;;) {
            if (ch == '{') {
                ws(c);
                if (!skip_string(c)) return false;
                ws(c);
                if (c->p >= c->end || *c->p != ':') return false;
                c->p++;
            }
            if (!skip_value(c, depth + 1)) return false;
            ws(c);
            if (c->p >= c->end) return false;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == close) {
                c->p++;
                return true;
            }
            return false;
        }
    }
    /* number, true, false, null */
    const char *start = c->p;
    while (c->p < c->end && ((*c->p >= '0' && *c->p <= '9') || (*c->p >= 'a' && *c->p <= 'z') || *c->p == '-' ||
                             *c->p == '+' || *c->p == '.' || *c->p == 'E'))
        c->p++;
    return c->p > start;
}

static int hexval(char h) {
    if (h >= '0' && h <= '9') return h - '0';
    if (h >= 'a' && h <= 'f') return h - 'a' + 10;
    if (h >= 'A' && h <= 'F') return h - 'A' + 10;
    return -1;
}

static bool hex4(const char *p, const char *end, uint32_t *out) {
    if (end - p < 4) return false;
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return false;
        v = v << 4 | (uint32_t)h;
    }
    *out = v;
    return true;
}

/* Unescape the JSON string at the cursor (at its quote). Borrowed when it has no escapes,
 * else written into scratch memory. */
static bool parse_string(cur_t *c, tw_str_t *out) {
    const char *start = c->p;
    if (!skip_string(c)) return false;
    const char *in = start + 1, *in_end = c->p - 1;
    if (!memchr(in, '\\', (size_t)(in_end - in))) {
        out->ptr = in;
        out->len = (size_t)(in_end - in);
        return true;
    }
    char *dst = tw__scratch((size_t)(in_end - in) + 1), *d = dst;
    for (const char *p = in; p < in_end; p++) {
        if (*p != '\\') {
            *d++ = *p;
            continue;
        }
        p++;
        switch (*p) {
        case '"': *d++ = '"'; break;
        case '\\': *d++ = '\\'; break;
        case '/': *d++ = '/'; break;
        case 'b': *d++ = '\b'; break;
        case 'f': *d++ = '\f'; break;
        case 'n': *d++ = '\n'; break;
        case 'r': *d++ = '\r'; break;
        case 't': *d++ = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (!hex4(p + 1, in_end, &cp)) return false;
            p += 4;
            if (cp >= 0xd800 && cp < 0xdc00) {
                uint32_t lo;
                if (in_end - p < 7 || p[1] != '\\' || p[2] != 'u' || !hex4(p + 3, in_end, &lo) || lo < 0xdc00 || lo > 0xdfff)
                    return false;
                p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp < 0xe000) {
                return false; /* a lone low surrogate */
            }
            /* UTF-8: at most 4 bytes, never more than the 6 of the escape. */
            if (cp < 0x80) {
                *d++ = (char)cp;
            } else if (cp < 0x800) {
                *d++ = (char)(0xc0 | cp >> 6);
                *d++ = (char)(0x80 | (cp & 0x3f));
            } else if (cp < 0x10000) {
                *d++ = (char)(0xe0 | cp >> 12);
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *d++ = (char)(0x80 | (cp & 0x3f));
            } else {
                *d++ = (char)(0xf0 | cp >> 18);
                *d++ = (char)(0x80 | ((cp >> 12) & 0x3f));
                *d++ = (char)(0x80 | ((cp >> 6) & 0x3f));
                *d++ = (char)(0x80 | (cp & 0x3f));
            }
            break;
        }
        default: return false;
        }
    }
    *d = 0;
    out->ptr = dst;
    out->len = (size_t)(d - dst);
    return true;
}

static const tw_str_t NONE = {NULL, 0};

tw_str_t tw_json_str(tw_str_t json) {
    if (!json.ptr) return NONE;
    cur_t c = {json.ptr, json.ptr + json.len};
    tw_str_t out;
    ws(&c);
    if (!parse_string(&c, &out)) return NONE;
    ws(&c);
    return c.p == c.end ? out : NONE;
}

bool tw_json_i64(tw_str_t json, int64_t *out) {
    if (!json.ptr) return false;
    cur_t c = {json.ptr, json.ptr + json.len};
    ws(&c);
    bool neg = c.p < c.end && *c.p == '-';
    if (neg) c.p++;
    const char *digits = c.p;
    while (c.p < c.end && *c.p >= '0' && *c.p <= '9') c.p++;
    size_t n = (size_t)(c.p - digits);
    ws(&c);
    if (c.p != c.end || n == 0 || n > 19 || (n > 1 && digits[0] == '0')) return false;
    uint64_t mag = 0;
    for (size_t i = 0; i < n; i++) mag = mag * 10 + (uint64_t)(digits[i] - '0');
    if (neg) {
        if (mag > (uint64_t)INT64_MAX + 1) return false;
        *out = (int64_t)(0 - mag);
    } else {
        if (mag > (uint64_t)INT64_MAX) return false;
        *out = (int64_t)mag;
    }
    return true;
}

bool tw_json_bool(tw_str_t json, bool *out) {
    if (!json.ptr) return false;
    cur_t c = {json.ptr, json.ptr + json.len};
    ws(&c);
    const char *start = c.p;
    while (c.p < c.end && *c.p >= 'a' && *c.p <= 'z') c.p++;
    tw_str_t word = {start, (size_t)(c.p - start)};
    ws(&c);
    if (c.p != c.end) return false;
    if (tw_str_eq(word, "true")) return *out = true, true;
    if (tw_str_eq(word, "false")) return *out = false, true;
    return false;
}

int tw_json_strings(tw_str_t json, tw_str_t *items, int max) {
    if (!json.ptr) return -1;
    cur_t c = {json.ptr, json.ptr + json.len};
    ws(&c);
    if (c.p >= c.end || *c.p != '[') return -1;
    c.p++;
    ws(&c);
    int n = 0;
    if (c.p < c.end && *c.p == ']') {
        c.p++;
    } else {
        for (;;) {
            tw_str_t s;
            ws(&c);
            if (!parse_string(&c, &s)) return -1;
            if (n < max && items) items[n] = s;
            n++;
            ws(&c);
            if (c.p >= c.end) return -1;
            if (*c.p == ',') {
                c.p++;
                continue;
            }
            if (*c.p == ']') {
                c.p++;
                break;
            }
            return -1;
        }
    }
    ws(&c);
    return c.p == c.end ? n : -1;
}

/* Whether the raw JSON string `raw` (quotes included) names `name`. */
static bool name_is(tw_str_t raw, const char *name) {
    size_t n = strlen(name);
    if (raw.len == n + 2 && memcmp(raw.ptr + 1, name, n) == 0) return true;
    if (!memchr(raw.ptr, '\\', raw.len)) return false;
    tw_str_t un = tw_json_str(raw);
    return un.ptr && un.len == n && memcmp(un.ptr, name, n) == 0;
}

/* The next member of an object: the cursor is after `{` or after the previous value. */
static bool next_member(cur_t *c, bool first, tw_str_t *name, tw_str_t *value) {
    ws(c);
    if (c->p >= c->end) return false;
    if (!first) {
        if (*c->p != ',') return false;
        c->p++;
        ws(c);
    } else if (*c->p == '}') {
        return false;
    }
    const char *n0 = c->p;
    if (!skip_string(c)) return false;
    name->ptr = n0;
    name->len = (size_t)(c->p - n0);
    ws(c);
    if (c->p >= c->end || *c->p != ':') return false;
    c->p++;
    ws(c);
    const char *v0 = c->p;
    if (!skip_value(c, 0)) return false;
    value->ptr = v0;
    value->len = (size_t)(c->p - v0);
    return true;
}

static bool open_object(cur_t *c) {
    ws(c);
    if (c->p >= c->end || *c->p != '{') return false;
    c->p++;
    return true;
}

tw_str_t tw_json_member(tw_str_t object, const char *name) {
    if (!object.ptr) return NONE;
    cur_t c = {object.ptr, object.ptr + object.len};
    if (!open_object(&c)) return NONE;
    tw_str_t n, v;
    for (bool first = true; next_member(&c, first, &n, &v); first = false)
        if (name_is(n, name)) return v;
    return NONE;
}

/* ---- claims ----------------------------------------------------------------------------- */

struct tw_declaration tw__declared;

static bool warned;

static void undeclared(const char *name) {
    if (warned) return;
    warned = true;
    tw_warn("claim \"%s\" was not declared, so it reads as absent: a listener reads only the claims it declares; "
            "add \"%s\" with tw_declare_claim in the listener's declare function, or declare nothing to get every claim "
            "(this warning is logged once per instance)",
            name, name);
}

tw_str_t tw_get(const tw_event_t *ev, const char *name) {
    const uint8_t *p = ev->claims_at, *end = p + ev->claims_len;
    if (!tw__declared.claims_set) {
        tw_str_t object;
        field(p, end, &object);
        return tw_json_member(object, name);
    }
    for (size_t i = 0; i < tw__declared.n_claims; i++) {
        tw_str_t value;
        p = field(p, end, &value);
        if (strcmp(tw__declared.claims[i], name) == 0) return value;
    }
    undeclared(name);
    return NONE;
}

tw_str_t tw_get_str(const tw_event_t *ev, const char *name) { return tw_json_str(tw_get(ev, name)); }
bool tw_get_i64(const tw_event_t *ev, const char *name, int64_t *out) { return tw_json_i64(tw_get(ev, name), out); }
bool tw_get_bool(const tw_event_t *ev, const char *name, bool *out) { return tw_json_bool(tw_get(ev, name), out); }
int tw_get_strings(const tw_event_t *ev, const char *name, tw_str_t *items, int max) {
    return tw_json_strings(tw_get(ev, name), items, max);
}

tw_str_t tw_subject(const tw_event_t *ev) { return tw_get_str(ev, "sub"); }
tw_str_t tw_issuer_claim(const tw_event_t *ev) { return tw_get_str(ev, "iss"); }
tw_str_t tw_acr(const tw_event_t *ev) { return tw_get_str(ev, "acr"); }
tw_str_t tw_scope(const tw_event_t *ev) { return tw_get_str(ev, "scope"); }
tw_str_t tw_jwt_id(const tw_event_t *ev) { return tw_get_str(ev, "jti"); }
tw_str_t tw_client_id_claim(const tw_event_t *ev) { return tw_get_str(ev, "client_id"); }
bool tw_issued_at(const tw_event_t *ev, int64_t *out) { return tw_get_i64(ev, "iat", out); }
bool tw_expires_at(const tw_event_t *ev, int64_t *out) { return tw_get_i64(ev, "exp", out); }
bool tw_auth_time(const tw_event_t *ev, int64_t *out) { return tw_get_i64(ev, "auth_time", out); }
int tw_amr(const tw_event_t *ev, tw_str_t *items, int max) { return tw_get_strings(ev, "amr", items, max); }

bool tw_claim_next(const tw_event_t *ev, size_t *it, tw_str_t *name, tw_str_t *value) {
    const uint8_t *p = ev->claims_at, *end = p + ev->claims_len;
    tw_str_t v;
    if (!tw__declared.claims_set) {
        tw_str_t object;
        field(p, end, &object);
        if (!object.ptr) return false;
        /* *it: the offset after the previous member (0: before the first). */
        cur_t c = {object.ptr + *it, object.ptr + object.len};
        bool first = *it == 0;
        if (first && !open_object(&c)) return false;
        tw_str_t n;
        if (!next_member(&c, first, &n, &v)) return false;
        *it = (size_t)(c.p - object.ptr);
        name->ptr = n.ptr + 1; /* raw, without the quotes */
        name->len = n.len - 2;
        if (value) *value = v;
        return true;
    }
    /* *it: the index of the next declared claim to look at. */
    for (size_t i = 0; i < tw__declared.n_claims; i++) {
        p = field(p, end, &v);
        if (i < *it || !v.ptr) continue;
        *it = i + 1;
        *name = tw_cstr(tw__declared.claims[i]);
        if (value) *value = v;
        return true;
    }
    return false;
}

tw_str_t tw_claims_json(const tw_event_t *ev) {
    if (!tw__declared.claims_set) {
        tw_str_t object;
        field(ev->claims_at, ev->claims_at + ev->claims_len, &object);
        return object.ptr && object.len ? object : tw_cstr("{}");
    }
    tw_buf_t b = {0};
    tw_buf_putc(&b, '{');
    size_t it = 0;
    tw_str_t name, value;
    while (tw_claim_next(ev, &it, &name, &value)) {
        if (b.len > 1) tw_buf_putc(&b, ',');
        tw_buf_json_str(&b, name.ptr, name.len);
        tw_buf_putc(&b, ':');
        tw_buf_put(&b, value.ptr, value.len);
    }
    tw_buf_putc(&b, '}');
    char *out = tw__scratch(b.len + 1);
    memcpy(out, b.ptr, b.len + 1);
    tw_str_t s = {out, b.len};
    tw_buf_free(&b);
    return s;
}

/* ---- the declaration --------------------------------------------------------------------- */

static void push(char ***list, size_t *n, size_t *cap, const char *s, size_t len) {
    for (size_t i = 0; i < *n; i++)
        if (strlen((*list)[i]) == len && memcmp((*list)[i], s, len) == 0) return; /* repeats ignored */
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *list = tw__xrealloc(*list, *cap * sizeof **list);
    }
    (*list)[(*n)++] = tw__strndup(s, len);
}

void tw_declare_claim(tw_declaration_t *d, const char *name) {
    d->claims_set = true;
    push(&d->claims, &d->n_claims, &d->cap_claims, name, strlen(name));
}

bool tw_csv_next(const char **csv, const char **item, size_t *len) {
    while (**csv) {
        const char *comma = strchr(*csv, ',');
        const char *end = comma ? comma : *csv + strlen(*csv);
        const char *a = *csv, *b = end;
        while (a < b && (*a == ' ' || *a == '\t')) a++;
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) b--;
        *csv = comma ? comma + 1 : end;
        if (b > a) {
            *item = a;
            *len = (size_t)(b - a);
            return true;
        }
    }
    return false;
}

void tw_declare_claims(tw_declaration_t *d, const char *csv) {
    d->claims_set = true;
    const char *item;
    size_t len;
    while (tw_csv_next(&csv, &item, &len)) push(&d->claims, &d->n_claims, &d->cap_claims, item, len);
}

void tw_declare_no_claims(tw_declaration_t *d) { d->claims_set = true; }
void tw_declare_client_metadata(tw_declaration_t *d) { d->client_metadata = true; }

void tw_declare_property(tw_declaration_t *d, const char *key) {
    d->props_set = true;
    push(&d->props, &d->n_props, &d->cap_props, key, strlen(key));
}

void tw_declare_no_properties(tw_declaration_t *d) { d->props_set = true; }

void tw__declaration_reset(struct tw_declaration *d) {
    for (size_t i = 0; i < d->n_claims; i++) free(d->claims[i]);
    for (size_t i = 0; i < d->n_props; i++) free(d->props[i]);
    free(d->claims);
    free(d->props);
    memset(d, 0, sizeof *d);
    warned = false;
}

const char *tw_property(const tw_properties_t *p, const char *key) {
    for (size_t i = 0; i < p->len; i++)
        if (strcmp(p->items[i].key, key) == 0) return p->items[i].value;
    return NULL;
}

const char *tw_sign_status_name(tw_sign_status_t s) {
    switch (s) {
    case TW_SIGN_OK: return "ok";
    case TW_SIGN_NO_KEY_CONFIGURED: return "no-key-configured";
    case TW_SIGN_REFUSED: return "refused";
    case TW_SIGN_QUOTA_EXCEEDED: return "quota-exceeded";
    case TW_SIGN_TOO_LARGE: return "too-large";
    case TW_SIGN_AUDIENCE_NOT_ALLOWED: return "audience-not-allowed";
    }
    return "?";
}

const char *tw_publish_status_name(tw_publish_status_t s) {
    switch (s) {
    case TW_PUBLISH_OK: return "ok";
    case TW_PUBLISH_UNKNOWN_SINK: return "unknown-sink";
    case TW_PUBLISH_TOO_LARGE: return "too-large";
    case TW_PUBLISH_QUEUE_FULL: return "queue-full";
    }
    return "?";
}
