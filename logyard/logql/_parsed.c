/* The labels `| logfmt` or `| json` gives a few names, for a whole line column at once.
 *
 * `sum by (level) (count_over_time({…} | logfmt [5m]))` ran the parser stage on every row in
 * Python, ~30 us a row: a minute for the bench day. With parser hints only the grouped names are
 * extracted, and for them the stage's answer is each name's first value in the line. This finds
 * those values in C (parsed_columns.py makes the labels):
 * - logfmt: the first non-empty value among the pairs whose key sanitizes to the name, scanning as
 *   stages/logfmt.py's `decode` does (Loki's decoder: blanks, bare keys, `=`, bare or
 *   double-quoted values, errors that skip to the next blank or end the line).
 * - json: the first string, number (as written) or boolean whose path (keys sanitized, joined
 *   with `_`) is the name, in a valid JSON object as Python's json module reads it (the stage's
 *   fast path); arrays and null give none.
 *
 * A row is declined (left to the Python stage) when this could answer differently from it: any
 * byte that is not valid UTF-8 or a U+FFFD in the line (the stages replace or reject those), names
 * that may start with `__`; for logfmt a quoted value with a \u escape; for json anything but a
 * valid object, keys escaped, blank-edged or non-ASCII, surrogate or U+FFFD escapes, nesting past 64.
 *
 * logfmt_values(offsets, data, names) and json_values(...) -> (states, [(offsets, data, present), ...])
 *   offsets: int64[n + 1] of a large_string column, data its bytes, names: a tuple of sanitized
 *   label names (bytes). states: uint8[n], 0 scanned, 1 declined, 2 (json) not an object, which
 *   the stage fails at once with no label; present: uint8[n]; per name the values as
 *   large_string buffers (a row without the name holds ""). Runs without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NAMES 32

typedef struct {
    const uint8_t *p;
    Py_ssize_t n;
} Span;

typedef struct {
    const uint8_t *name;
    Py_ssize_t name_len;
    int64_t *off;   /* n + 1 */
    uint8_t *data;  /* grows */
    Py_ssize_t len, cap;
    uint8_t *present;
} Out;

/* Valid UTF-8 without U+FFFD (EF BF BD), no surrogates or overlongs. */
static int clean_utf8(const uint8_t *p, Py_ssize_t n)
{
    Py_ssize_t i = 0;
    while (i < n) {
        uint8_t c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            if (i + 1 >= n || (p[i + 1] & 0xC0) != 0x80)
                return 0;
            i += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (i + 2 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80)
                return 0;
            if (c == 0xE0 && p[i + 1] < 0xA0)
                return 0;
            if (c == 0xED && p[i + 1] >= 0xA0)
                return 0;
            if (c == 0xEF && p[i + 1] == 0xBF && p[i + 2] == 0xBD)
                return 0;
            i += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (i + 3 >= n || (p[i + 1] & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80 || (p[i + 3] & 0xC0) != 0x80)
                return 0;
            if (c == 0xF0 && p[i + 1] < 0x90)
                return 0;
            if (c == 0xF4 && p[i + 1] >= 0x90)
                return 0;
            i += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* The code point at p[i] of valid UTF-8 and its length. */
static uint32_t rune_at(const uint8_t *p, Py_ssize_t i, int *len)
{
    uint8_t c = p[i];
    if (c < 0x80) {
        *len = 1;
        return c;
    }
    if (c < 0xE0) {
        *len = 2;
        return ((uint32_t)(c & 0x1F) << 6) | (p[i + 1] & 0x3F);
    }
    if (c < 0xF0) {
        *len = 3;
        return ((uint32_t)(c & 0x0F) << 12) | ((uint32_t)(p[i + 1] & 0x3F) << 6) | (p[i + 2] & 0x3F);
    }
    *len = 4;
    return ((uint32_t)(c & 0x07) << 18) | ((uint32_t)(p[i + 1] & 0x3F) << 12) | ((uint32_t)(p[i + 2] & 0x3F) << 6) |
           (p[i + 3] & 0x3F);
}

/* Go's unicode.IsSpace above ASCII (keys hold no byte at or below a space). */
static int go_space(uint32_t r)
{
    return r == 0x85 || r == 0xA0 || r == 0x1680 || (r >= 0x2000 && r <= 0x200A) || r == 0x2028 || r == 0x2029 ||
           r == 0x202F || r == 0x205F || r == 0x3000;
}

/* Whether the key (valid UTF-8) sanitizes to `name` as Loki's sanitizeLabelKey does: Unicode
 * spaces trimmed, a leading digit given a `_` before it, every rune outside [A-Za-z0-9_] made `_`. */
static int key_is(const uint8_t *k, Py_ssize_t kn, const uint8_t *name, Py_ssize_t nn)
{
    Py_ssize_t a = 0, b = kn, j = 0;
    int len;
    while (a < b && k[a] >= 0x80 && go_space(rune_at(k, a, &len)))
        a += len;
    while (a < b) { /* the last rune: back over continuation bytes */
        Py_ssize_t last = b - 1;
        while (last > a && (k[last] & 0xC0) == 0x80)
            last--;
        if (k[last] < 0x80 || !go_space(rune_at(k, last, &len)))
            break;
        b = last;
    }
    if (a < b && k[a] >= '0' && k[a] <= '9') {
        if (nn < 1 || name[0] != '_')
            return 0;
        j = 1;
    }
    for (Py_ssize_t i = a; i < b; i += len) {
        uint8_t c = k[i];
        len = 1;
        if (c >= 0x80)
            rune_at(k, i, &len);
        int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        if (j >= nn || (word ? c : '_') != name[j])
            return 0;
        j++;
    }
    return j == nn;
}

/* Whether the key (valid UTF-8) may sanitize to a name starting with `__` (a parsed `__error__`):
 * its first two runes after Unicode spaces both become `_`. */
static int key_dunder(const uint8_t *k, Py_ssize_t kn)
{
    Py_ssize_t a = 0;
    int len, seen = 0;
    while (a < kn && k[a] >= 0x80 && go_space(rune_at(k, a, &len)))
        a += len;
    while (a < kn && seen < 2) {
        uint8_t c = k[a];
        len = 1;
        if (c >= 0x80)
            rune_at(k, a, &len);
        else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
            return 0;
        a += len;
        seen++;
    }
    return seen == 2;
}

/* A quoted value's text (quotes off, escapes resolved) into `buf` (room for the raw bytes): its
 * length, -1 for an invalid escape (the stage's syntax error: the pair is skipped), -2 for \u. */
static Py_ssize_t unquote(const uint8_t *raw, Py_ssize_t n, uint8_t *buf)
{
    Py_ssize_t o = 0;
    for (Py_ssize_t i = 1; i < n - 1; i++) {
        uint8_t c = raw[i];
        if (c != '\\') {
            buf[o++] = c;
            continue;
        }
        if (++i >= n - 1)
            return -1;
        switch (raw[i]) {
        case '"': buf[o++] = '"'; break;
        case '\\': buf[o++] = '\\'; break;
        case '/': buf[o++] = '/'; break;
        case '\'': buf[o++] = '\''; break;
        case 'b': buf[o++] = '\b'; break;
        case 'f': buf[o++] = '\f'; break;
        case 'n': buf[o++] = '\n'; break;
        case 'r': buf[o++] = '\r'; break;
        case 't': buf[o++] = '\t'; break;
        case 'u': return -2;
        default: return -1;
        }
    }
    return o;
}

static int put(Out *out, Py_ssize_t row, const uint8_t *v, Py_ssize_t n)
{
    if (out->len + n > out->cap) {
        Py_ssize_t cap = out->cap * 2 + n + 1024;
        uint8_t *d = realloc(out->data, (size_t)cap);
        if (d == NULL)
            return -1;
        out->data = d;
        out->cap = cap;
    }
    if (n > 0)
        memcpy(out->data + out->len, v, (size_t)n);
    out->len += n;
    out->present[row] = 1;
    return 0;
}

enum { LINE_OK = 0, LINE_DECLINED = 1, LINE_NOT_OBJECT = 2, NO_MEMORY = 3 };

/* One line: each name's first non-empty value (appended to its Out, `got[j]` set). */
static int logfmt_line(const uint8_t *p, Py_ssize_t n, Out *outs, int k, Py_ssize_t row, uint8_t *scratch)
{
    int got[MAX_NAMES] = {0}, left = k;
    Py_ssize_t pos = 0;
    while (pos < n && left > 0) { /* one step per pair */
        while (pos < n && p[pos] <= 0x20)
            pos++;
        if (pos >= n)
            break;
        Py_ssize_t start = pos;
        int state = 0; /* 0 bare key, 1 '=' seen, 2 error: skip to a blank */
        while (pos < n) {
            uint8_t c = p[pos];
            if (c == '=') {
                state = pos > start ? 1 : 2;
                break;
            }
            if (c == '"') {
                state = 2;
                break;
            }
            if (c <= 0x20)
                break;
            pos++;
        }
        if (state == 0)
            continue; /* a bare key: no value, nothing recorded */
        if (state == 2) {
            while (pos < n && p[pos] > 0x20)
                pos++;
            continue;
        }
        const uint8_t *key = p + start;
        Py_ssize_t key_len = pos - start;
        if (key_dunder(key, key_len))
            return LINE_DECLINED; /* a parsed `__error__`-like label: the per-row walk */
        pos++; /* past '=' */
        if (pos >= n || p[pos] <= 0x20)
            continue; /* `key=`: no value */
        const uint8_t *value;
        Py_ssize_t value_len;
        if (p[pos] == '"') {
            Py_ssize_t q = pos + 1;
            int esc = 0, has_esc = 0, closed = 0;
            while (q < n) {
                uint8_t ch = p[q];
                if (esc)
                    esc = 0;
                else if (ch == '\\')
                    has_esc = esc = 1;
                else if (ch == '"') {
                    closed = 1;
                    break;
                }
                q++;
            }
            if (!closed)
                break; /* unterminated: the decoder stops here */
            const uint8_t *raw = p + pos;
            Py_ssize_t raw_len = q + 1 - pos;
            pos = q + 1;
            if (has_esc) {
                Py_ssize_t u = unquote(raw, raw_len, scratch);
                if (u == -2)
                    return LINE_DECLINED;
                if (u < 0)
                    continue; /* invalid quoted value: a syntax error, the pair is skipped */
                value = scratch;
                value_len = u;
            } else {
                value = raw + 1;
                value_len = raw_len - 2;
            }
        } else {
            Py_ssize_t vstart = pos;
            int bad = 0;
            while (pos < n) {
                uint8_t ch = p[pos];
                if (ch == '=' || ch == '"') {
                    bad = 1;
                    break;
                }
                if (ch <= 0x20)
                    break;
                pos++;
            }
            if (bad) {
                while (pos < n && p[pos] > 0x20)
                    pos++;
                continue;
            }
            value = p + vstart;
            value_len = pos - vstart;
        }
        if (value_len == 0)
            continue; /* empty: not recorded, a later pair may give the name */
        for (int j = 0; j < k; j++) {
            if (!got[j] && key_is(key, key_len, outs[j].name, outs[j].name_len)) {
                if (put(&outs[j], row, value, value_len) < 0)
                    return NO_MEMORY;
                got[j] = 1;
                left--;
            }
        }
    }
    return LINE_OK;
}


/* ---- `| json`: valid JSON objects only, as Python's json module (the stage's fast path) reads them ---- */

#define MAX_DEPTH 64
#define MAX_NAME 512

typedef struct {
    const uint8_t *p;
    Py_ssize_t n, i;
    Out *outs;
    int k, left;
    Py_ssize_t row;
    uint8_t *scratch; /* room for the longest value text: a line's length */
    int got[MAX_NAMES];
    uint8_t name[MAX_NAME]; /* the sanitized path so far */
    Py_ssize_t name_len;
    int quiet; /* inside an array: nothing there gives a label */
} Json;

static void ws(Json *j)
{
    while (j->i < j->n && (j->p[j->i] == ' ' || j->p[j->i] == '\t' || j->p[j->i] == '\n' || j->p[j->i] == '\r'))
        j->i++;
}

static int hex4(const uint8_t *p, uint32_t *out)
{
    uint32_t v = 0;
    for (int t = 0; t < 4; t++) {
        uint8_t c = p[t];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (uint32_t)(c - 'A' + 10);
        else
            return 0;
    }
    *out = v;
    return 1;
}

/* A string at j->i (its opening quote): its text into `out` (when not NULL), its length; -1 to
 * decline the row (not valid JSON, a surrogate or U+FFFD escape, or an escape in a key: `out` NULL
 * and `key` set). */
static Py_ssize_t json_string(Json *j, uint8_t *out, int key)
{
    Py_ssize_t o = 0;
    j->i++;
    while (j->i < j->n) {
        uint8_t c = j->p[j->i];
        if (c == '"') {
            j->i++;
            return o;
        }
        if (c < 0x20)
            return -1; /* a raw control character: json.loads refuses it */
        if (c != '\\') {
            if (out)
                out[o] = c;
            o++;
            j->i++;
            continue;
        }
        if (key || j->i + 1 >= j->n)
            return -1;
        uint8_t e = j->p[j->i + 1], r;
        j->i += 2;
        switch (e) {
        case '"': r = '"'; break;
        case '\\': r = '\\'; break;
        case '/': r = '/'; break;
        case 'b': r = '\b'; break;
        case 'f': r = '\f'; break;
        case 'n': r = '\n'; break;
        case 'r': r = '\r'; break;
        case 't': r = '\t'; break;
        case 'u': {
            uint32_t cp;
            if (j->i + 4 > j->n || !hex4(j->p + j->i, &cp) || (cp >= 0xD800 && cp < 0xE000) || cp == 0xFFFD)
                return -1;
            j->i += 4;
            uint8_t b[3];
            int nb;
            if (cp < 0x80) {
                b[0] = (uint8_t)cp;
                nb = 1;
            } else if (cp < 0x800) {
                b[0] = (uint8_t)(0xC0 | (cp >> 6));
                b[1] = (uint8_t)(0x80 | (cp & 0x3F));
                nb = 2;
            } else {
                b[0] = (uint8_t)(0xE0 | (cp >> 12));
                b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
                b[2] = (uint8_t)(0x80 | (cp & 0x3F));
                nb = 3;
            }
            if (out)
                memcpy(out + o, b, (size_t)nb);
            o += nb; /* never longer than the 6 bytes of the escape */
            continue;
        }
        default:
            return -1;
        }
        if (out)
            out[o] = r;
        o++;
    }
    return -1;
}

/* A number as json.loads reads it: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][-+]?[0-9]+)?; 0 if none. */
static int json_number(Json *j)
{
    Py_ssize_t i = j->i, n = j->n;
    const uint8_t *p = j->p;
    if (i < n && p[i] == '-')
        i++;
    if (i >= n || p[i] < '0' || p[i] > '9')
        return 0;
    if (p[i] == '0')
        i++;
    else
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
    if (i < n && p[i] == '.') {
        Py_ssize_t d = ++i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-'))
            i++;
        Py_ssize_t d = i;
        while (i < n && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i == d)
            return 0;
    }
    j->i = i;
    return 1;
}

static int json_value(Json *j, int depth, int record, const uint8_t *name, Py_ssize_t name_len);

/* Record a scalar's text under the path's name, as the stage's first value of that name. */
static int json_record(Json *j, const uint8_t *name, Py_ssize_t name_len, const uint8_t *v, Py_ssize_t vn)
{
    if (j->quiet)
        return LINE_OK;
    if (name_len >= 2 && name[0] == '_' && name[1] == '_')
        return LINE_DECLINED; /* a parsed `__error__`-like label: the per-row walk */
    for (int t = 0; t < j->k; t++) {
        Out *out = &j->outs[t];
        if (!j->got[t] && out->name_len == name_len && memcmp(out->name, name, (size_t)name_len) == 0) {
            if (put(out, j->row, v, vn) < 0)
                return NO_MEMORY;
            out->present[j->row] = 1; /* an empty string is a label too */
            j->got[t] = 1;
            j->left--;
        }
    }
    return LINE_OK;
}

/* An object at j->i; its members' names extend the path in j->name. */
static int json_object(Json *j, int depth)
{
    if (depth > MAX_DEPTH)
        return LINE_DECLINED;
    j->i++;
    ws(j);
    if (j->i < j->n && j->p[j->i] == '}') {
        j->i++;
        return LINE_OK;
    }
    Py_ssize_t base = j->name_len;
    for (;;) {
        if (j->i >= j->n || j->p[j->i] != '"')
            return LINE_DECLINED;
        Py_ssize_t kstart = j->i + 1;
        Py_ssize_t klen = json_string(j, NULL, 1);
        if (klen <= 0)
            return LINE_DECLINED; /* escaped or empty key */
        const uint8_t *key = j->p + kstart;
        if (key[0] == ' ' || key[klen - 1] == ' ')
            return LINE_DECLINED; /* blanks trimmed by the sanitizing: the per-row walk */
        /* The member's name: the path, `_`, the key sanitized (a leading digit of the first part
         * gets a `_`), as Loki's buildSanitizedPrefixFromBuffer joins them. */
        Py_ssize_t at = base;
        if (at + klen + 2 > MAX_NAME)
            return LINE_DECLINED;
        if (at > 0)
            j->name[at++] = '_';
        else if (key[0] >= '0' && key[0] <= '9')
            j->name[at++] = '_';
        for (Py_ssize_t t = 0; t < klen; t++) {
            uint8_t c = key[t];
            if (c >= 0x80)
                return LINE_DECLINED;
            int word = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
            j->name[at++] = word ? c : '_';
        }
        ws(j);
        if (j->i >= j->n || j->p[j->i] != ':')
            return LINE_DECLINED;
        j->i++;
        ws(j);
        j->name_len = at;
        int s = json_value(j, depth + 1, 1, j->name, at);
        j->name_len = base;
        if (s != LINE_OK)
            return s;
        ws(j);
        if (j->i >= j->n)
            return LINE_DECLINED;
        if (j->p[j->i] == '}') {
            j->i++;
            return LINE_OK;
        }
        if (j->p[j->i] != ',')
            return LINE_DECLINED;
        j->i++;
        ws(j);
    }
}

static int json_array(Json *j, int depth)
{
    if (depth > MAX_DEPTH)
        return LINE_DECLINED;
    j->i++;
    ws(j);
    if (j->i < j->n && j->p[j->i] == ']') {
        j->i++;
        return LINE_OK;
    }
    j->quiet++;
    for (;;) {
        int s = json_value(j, depth + 1, 0, NULL, 0);
        if (s != LINE_OK) {
            j->quiet--;
            return s;
        }
        ws(j);
        if (j->i >= j->n)
            return LINE_DECLINED; /* (quiet left off: the row is declined) */
        if (j->p[j->i] == ']') {
            j->i++;
            j->quiet--;
            return LINE_OK;
        }
        if (j->p[j->i] != ',')
            return LINE_DECLINED;
        j->i++;
        ws(j);
    }
}

/* A value at j->i; scalars recorded under `name` when `record` (object members, not array items). */
static int json_value(Json *j, int depth, int record, const uint8_t *name, Py_ssize_t name_len)
{
    if (j->i >= j->n)
        return LINE_DECLINED;
    uint8_t c = j->p[j->i];
    if (c == '{')
        return json_object(j, depth); /* inside an array (`quiet`) it records nothing */
    if (c == '[')
        return json_array(j, depth);
    if (c == '"') {
        Py_ssize_t len = json_string(j, j->scratch, 0);
        if (len < 0)
            return LINE_DECLINED;
        return record ? json_record(j, name, name_len, j->scratch, len) : LINE_OK;
    }
    if (c == 't' || c == 'f' || c == 'n') {
        const char *word = c == 't' ? "true" : c == 'f' ? "false" : "null";
        Py_ssize_t wn = (Py_ssize_t)strlen(word);
        if (j->n - j->i < wn || memcmp(j->p + j->i, word, (size_t)wn) != 0)
            return LINE_DECLINED;
        j->i += wn;
        if (c == 'n' || !record)
            return LINE_OK; /* null gives no label */
        return json_record(j, name, name_len, (const uint8_t *)word, wn);
    }
    Py_ssize_t start = j->i;
    if (!json_number(j))
        return LINE_DECLINED; /* NaN, Infinity, or no value: the per-row walk */
    return record ? json_record(j, name, name_len, j->p + start, j->i - start) : LINE_OK;
}

/* One line: a JSON object, whole, every member walked (the stage's early stop changes no label). */
static int json_line(const uint8_t *p, Py_ssize_t n, Out *outs, int k, Py_ssize_t row, uint8_t *scratch)
{
    Json j;
    j.p = p;
    j.n = n;
    j.i = 0;
    j.outs = outs;
    j.k = k;
    j.left = k;
    j.row = row;
    j.scratch = scratch;
    j.name_len = 0;
    j.quiet = 0;
    memset(j.got, 0, sizeof j.got);
    ws(&j);
    if (j.i >= n || p[j.i] != '{')
        return LINE_NOT_OBJECT; /* the stage's walk fails on it at once: an error, no label */
    int s = json_object(&j, 0);
    if (s != LINE_OK)
        return s;
    ws(&j);
    return j.i == n ? LINE_OK : LINE_DECLINED;
}

typedef int (*line_scanner)(const uint8_t *, Py_ssize_t, Out *, int, Py_ssize_t, uint8_t *);

static PyObject *first_values(PyObject *args, line_scanner scan)
{
    Py_buffer off_view = {0}, data_view = {0};
    PyObject *names;
    if (!PyArg_ParseTuple(args, "y*y*O!", &off_view, &data_view, &PyTuple_Type, &names))
        return NULL;
    PyObject *result = NULL, *declined_obj = NULL, *list = NULL;
    Out outs[MAX_NAMES];
    memset(outs, 0, sizeof outs);
    uint8_t *scratch = NULL;
    int k = (int)PyTuple_GET_SIZE(names);
    Py_ssize_t n = off_view.len / 8 - 1;
    const int64_t *off = off_view.buf;
    const uint8_t *data = data_view.buf;
    if (k > MAX_NAMES) {
        PyErr_SetString(PyExc_ValueError, "at most 32 names");
        goto done;
    }
    if (n < 0 || off_view.len % 8) {
        PyErr_SetString(PyExc_ValueError, "offsets must be int64[n + 1]");
        goto done;
    }
    for (Py_ssize_t i = 0; i <= n; i++) {
        if (off[i] < 0 || off[i] > data_view.len || (i > 0 && off[i] < off[i - 1])) {
            PyErr_SetString(PyExc_ValueError, "offsets out of range");
            goto done;
        }
    }
    declined_obj = PyBytes_FromStringAndSize(NULL, n);
    if (declined_obj == NULL)
        goto done;
    uint8_t *declined = (uint8_t *)PyBytes_AS_STRING(declined_obj);
    memset(declined, 0, (size_t)n);
    for (int j = 0; j < k; j++) {
        PyObject *name = PyTuple_GET_ITEM(names, j);
        if (!PyBytes_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "names must be bytes");
            goto done;
        }
        outs[j].name = (const uint8_t *)PyBytes_AS_STRING(name);
        outs[j].name_len = PyBytes_GET_SIZE(name);
        outs[j].off = PyMem_RawMalloc((size_t)(n + 1) * 8);
        outs[j].present = PyMem_RawCalloc((size_t)n + 1, 1);
        if (outs[j].off == NULL || outs[j].present == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    Py_ssize_t longest = 1;
    for (Py_ssize_t i = 0; i < n; i++)
        if (off[i + 1] - off[i] > longest)
            longest = off[i + 1] - off[i];
    scratch = PyMem_RawMalloc((size_t)longest);
    if (scratch == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    int status = LINE_OK;
    Py_BEGIN_ALLOW_THREADS
    for (int j = 0; j < k; j++)
        outs[j].off[0] = 0;
    for (Py_ssize_t i = 0; i < n && status != NO_MEMORY; i++) {
        const uint8_t *p = data + off[i];
        Py_ssize_t len = off[i + 1] - off[i];
        Py_ssize_t before[MAX_NAMES];
        for (int j = 0; j < k; j++)
            before[j] = outs[j].len;
        int s = clean_utf8(p, len) ? scan(p, len, outs, k, i, scratch) : LINE_DECLINED;
        if (s == LINE_NOT_OBJECT) {
            declined[i] = 2;
        } else if (s == LINE_DECLINED) {
            declined[i] = 1;
            for (int j = 0; j < k; j++) { /* what the line gave before it was declined is dropped */
                outs[j].len = before[j];
                outs[j].present[i] = 0;
            }
        } else if (s == NO_MEMORY) {
            status = NO_MEMORY;
        }
        for (int j = 0; j < k; j++)
            outs[j].off[i + 1] = outs[j].len;
    }
    Py_END_ALLOW_THREADS
    if (status == NO_MEMORY) {
        PyErr_NoMemory();
        goto done;
    }
    list = PyList_New(k);
    if (list == NULL)
        goto done;
    for (int j = 0; j < k; j++) {
        PyObject *t = Py_BuildValue("(y#y#y#)", (const char *)outs[j].off, (Py_ssize_t)(n + 1) * 8,
                                    outs[j].data ? (const char *)outs[j].data : "", outs[j].len,
                                    (const char *)outs[j].present, n);
        if (t == NULL)
            goto done;
        PyList_SET_ITEM(list, j, t);
    }
    result = PyTuple_Pack(2, declined_obj, list);
done:
    for (int j = 0; j < MAX_NAMES; j++) {
        PyMem_RawFree(outs[j].off);
        PyMem_RawFree(outs[j].present);
        free(outs[j].data);
    }
    PyMem_RawFree(scratch);
    Py_XDECREF(declined_obj);
    Py_XDECREF(list);
    PyBuffer_Release(&off_view);
    PyBuffer_Release(&data_view);
    return result;
}

static PyObject *logfmt_values(PyObject *self, PyObject *args) { return first_values(args, logfmt_line); }

static PyObject *json_values(PyObject *self, PyObject *args) { return first_values(args, json_line); }

static PyMethodDef METHODS[] = {
    {"logfmt_values", logfmt_values, METH_VARARGS, "Each name's first non-empty logfmt value per line; declined rows."},
    {"json_values", json_values, METH_VARARGS, "Each name's first JSON value per line; declined rows."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_parsed", "Parsed labels over a line column, in C.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__parsed(void) { return PyModule_Create(&MODULE); }
