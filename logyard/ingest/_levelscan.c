/* detected_level for a whole Arrow string column in one C pass.
 *
 * level.py's detect_levels is the reference: it runs a series of RE2 passes whose exact match
 * semantics (leftmost-first, anchoring, which bytes a class takes) define the answer. This file
 * re-walks those same patterns by hand for the common shapes of a line and answers DEFER (-2)
 * for every line it does not settle with certainty; the caller (level_fast.py) runs the
 * reference on those lines. Deferred: JSON lines that do not start with `{` or whose level key
 * follows a nested object, logfmt lines that mention a level key but not as a plain token walk,
 * and any level value holding a backslash or a non-ASCII byte (utf8_lower maps e.g. U+0130 to
 * `i`, so only ASCII values are compared here).
 *
 * Pattern names in the comments are level.py's.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef const unsigned char *Bytes;
typedef Py_ssize_t Size;

enum { TRACE, DEBUG, INFO, WARN, ERROR, CRITICAL, FATAL, UNKNOWN };
#define DEFER (-2)
#define NONE (-1) /* no usable level value: the keyword search decides */

/* LEVEL_FIELDS, the JSON keys compared byte for byte. */
static const char *const JSON_KEYS[] = {
    "level", "LEVEL", "Level", "log.level", "severity", "SEVERITY", "Severity", "SeverityText",
    "lvl", "LVL", "Lvl", "severity_text", "Severity_Text", "SEVERITY_TEXT",
};
#define N_JSON_KEYS (sizeof(JSON_KEYS) / sizeof(JSON_KEYS[0]))
static Size JSON_KEY_LEN[N_JSON_KEYS];

/* VALUE_LEVELS, compared after ASCII lower-casing. */
static const struct { const char *name; int code; } VALUES[] = {
    {"trace", TRACE}, {"trc", TRACE}, {"debug", DEBUG}, {"dbg", DEBUG},
    {"info", INFO}, {"inf", INFO}, {"information", INFO},
    {"warn", WARN}, {"wrn", WARN}, {"warning", WARN}, {"error", ERROR}, {"err", ERROR},
    {"critical", CRITICAL}, {"fatal", FATAL},
};

/* _KEYWORDS' alternation, in its order (leftmost-first: `error` before `err`). */
static const struct { const char *word; Size len; int code; } KEYWORDS[] = {
    {"trace", 5, TRACE}, {"debug", 5, DEBUG}, {"fatal", 5, FATAL}, {"critical", 8, CRITICAL},
    {"error", 5, ERROR}, {"err", 3, ERROR}, {"warning", 7, WARN}, {"warn", 4, WARN}, {"info", 4, INFO},
};

static unsigned char KW_BEFORE[256]; /* [ \t\n\[({\"'=|] */
static unsigned char KW_AFTER[256];  /* [ \t\n\[\](){}:,!\"'=|] */

static unsigned char KW_FIRST[256]; /* first letters of the keywords, either case */

static unsigned char KCH[256];

static void init_tables(void)
{
    for (int c = 0x21; c < 256; c++)
        KCH[c] = c != '=' && c != '"';
    for (size_t k = 0; k < N_JSON_KEYS; k++)
        JSON_KEY_LEN[k] = (Size)strlen(JSON_KEYS[k]);
    for (const char *c = "tdfcewi"; *c; c++)
        KW_FIRST[(unsigned char)*c] = KW_FIRST[(unsigned char)*c - 32] = 1;
    for (const char *c = " \t\n[({\"'=|"; *c; c++)
        KW_BEFORE[(unsigned char)*c] = 1;
    for (const char *c = " \t\n[](){}:,!\"'=|"; *c; c++)
        KW_AFTER[(unsigned char)*c] = 1;
}

static inline int lower(int c) { return (c >= 'A' && c <= 'Z') ? c + 32 : c; }

/* ASCII case-insensitive prefix test; `word` is lower case. (?i) on these words takes no
 * non-ASCII character: RE2's folding adds only U+017F for s and U+212A for k, and none of the
 * words holds an s or a k. */
static inline int ci_at(Bytes s, Size n, Size i, const char *word, Size len)
{
    if (n - i < len)
        return 0;
    for (Size k = 0; k < len; k++)
        if (lower(s[i + k]) != word[k])
            return 0;
    return 1;
}

static inline int ws4(int c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* Go's unicode.IsSpace (level.py's _GO_SPACE): the byte length of the space at i, or 0. */
static Size go_space(Bytes s, Size n, Size i)
{
    unsigned c = s[i];
    if (c == ' ' || (c >= '\t' && c <= '\r'))
        return 1;
    if (c == 0xC2 && i + 1 < n && (s[i + 1] == 0x85 || s[i + 1] == 0xA0))
        return 2;
    if (i + 2 >= n)
        return 0;
    unsigned c1 = s[i + 1], c2 = s[i + 2];
    if (c == 0xE1 && c1 == 0x9A && c2 == 0x80) /* U+1680 */
        return 3;
    if (c == 0xE2 && c1 == 0x80 && (c2 <= 0x8A || c2 == 0xA8 || c2 == 0xA9 || c2 == 0xAF))
        return c2 >= 0x80 ? 3 : 0; /* U+2000-200A, 2028, 2029, 202F */
    if (c == 0xE2 && c1 == 0x81 && c2 == 0x9F) /* U+205F */
        return 3;
    if (c == 0xE3 && c1 == 0x80 && c2 == 0x80) /* U+3000 */
        return 3;
    return 0;
}

/* _is_json: `{` after Go spaces, `}` before ASCII spaces. */
static int is_json(Bytes s, Size n)
{
    Size i = 0, sp;
    while (i < n && (sp = go_space(s, n, i)) > 0)
        i += sp;
    if (i >= n || s[i] != '{')
        return 0;
    Size j = n;
    while (j > 0 && (s[j - 1] == ' ' || (s[j - 1] >= '\t' && s[j - 1] <= '\r')))
        j--;
    return j > 0 && s[j - 1] == '}';
}

/* `"KEY"[ \t\n\r]*:[ \t\n\r]*"` at p, then with want_value the rest of _JSON_STR:
 * `(?:[^"\\]|\\.)*"`, where `.` takes a newline only under (?s) (`dotall`). Sets the value span. */
static int json_key_value(Bytes s, Size n, Size p, int want_value, int dotall, Size *vs, Size *ve)
{
    Size q = -1;
    if (p + 1 >= n || (s[p + 1] != 'l' && s[p + 1] != 'L' && s[p + 1] != 's' && s[p + 1] != 'S'))
        return 0; /* every key starts with l, L, s or S */
    for (size_t k = 0; k < N_JSON_KEYS; k++) {
        Size len = JSON_KEY_LEN[k];
        if (p + 1 + len < n && memcmp(s + p + 1, JSON_KEYS[k], len) == 0 && s[p + 1 + len] == '"') {
            q = p + 2 + len;
            break;
        }
    }
    if (q < 0)
        return 0;
    while (q < n && ws4(s[q]))
        q++;
    if (q >= n || s[q] != ':')
        return 0;
    q++;
    while (q < n && ws4(s[q]))
        q++;
    if (q >= n || s[q] != '"')
        return 0;
    if (!want_value)
        return 1;
    *vs = ++q;
    while (q < n) {
        unsigned c = s[q];
        if (c == '"') {
            *ve = q;
            return 1;
        }
        if (c == '\\') {
            if (q + 1 >= n || (!dotall && s[q + 1] == '\n'))
                return 0;
            q += 2; /* a multi-byte character's tail bytes are taken by [^"\\] */
        } else {
            q++;
        }
    }
    return 0;
}

/* _JSON_FLAT: a level key/value before any of `{}[]` after the opening brace (at 0 here).
 * The position of the first such match, or -1. */
static Size json_flat(Bytes s, Size n)
{
    Size vs, ve;
    for (Size p = 1; p < n; p++) {
        unsigned c = s[p];
        if (c == '{' || c == '}' || c == '[' || c == ']')
            return -1;
        if (c == '"' && json_key_value(s, n, p, 1, 1, &vs, &ve))
            return p;
    }
    return -1;
}

/* The code of a level value (VALUE_LEVELS after utf8_lower), NONE, or DEFER for a non-ASCII one. */
static int value_code(Bytes s, Size vs, Size ve)
{
    Size len = ve - vs;
    for (Size k = vs; k < ve; k++)
        if (s[k] >= 0x80)
            return DEFER;
    if (len == 0 || len > 11)
        return NONE;
    for (size_t v = 0; v < sizeof(VALUES) / sizeof(VALUES[0]); v++)
        if ((Size)strlen(VALUES[v].name) == len && ci_at(s, ve, vs, VALUES[v].name, len))
            return VALUES[v].code;
    return NONE;
}

/* _json_values for a line that is JSON and starts with `{`. */
static int json_level(Bytes s, Size n)
{
    Size vs, ve;
    Size flat = json_flat(s, n);
    if (flat < 0) {
        /* _JSON_ANY: a level key somewhere: the reference walks the document. */
        for (Size p = 0; p < n; p++)
            if (s[p] == '"' && json_key_value(s, n, p, 0, 0, &vs, &ve))
                return DEFER;
        return NONE;
    }
    /* The value comes from _JSON_FIRST, the leftmost match anywhere without (?s). No match
     * starts before `flat` (json_flat tried those under (?s), which only widens), so `flat` is
     * it unless its value needs (?s); then the search goes on past it. */
    for (Size p = flat; p < n; p++)
        if (s[p] == '"' && json_key_value(s, n, p, 1, 0, &vs, &ve))
            return value_code(s, vs, ve);
    return NONE;
}

/* KCH: [^\x00-\x20="], a logfmt key or unquoted value byte */
static inline int kch(unsigned c) { return KCH[c]; }

/* _QV at q (s[q] == '"'): the end after the closing quote, or -1. `.` takes a newline only
 * under (?s) (`dotall`). Sets *escaped when the value holds a backslash. */
static Size quoted(Bytes s, Size n, Size q, int dotall, int *escaped)
{
    for (q++; q < n; q++) {
        if (s[q] == '"')
            return q + 1;
        if (s[q] == '\\') {
            if (q + 1 >= n || (!dotall && s[q + 1] == '\n'))
                return -1;
            *escaped = 1;
            q++;
        }
    }
    return -1;
}

/* The tail after a level key at k: `(?:=(?:(?P<u>{KCH}+)(?:{WS}|$)|(?P<q>{QV}))|=?(?:{WS}|$))`.
 * Returns 0 when it does not match, else 1 and in *code the value's level (NONE for no value,
 * DEFER for a quoted value with escapes: _unquote_logfmt JSON-unquotes it). */
static int level_tail(Bytes s, Size n, Size k, int dotall, int *code)
{
    *code = NONE;
    if (k == n || s[k] <= 0x20)
        return 1; /* the key alone */
    if (s[k] != '=')
        return 0;
    k++;
    if (k == n || s[k] <= 0x20)
        return 1; /* `key=`: an empty value */
    if (s[k] == '"') {
        int escaped = 0;
        Size end = quoted(s, n, k, dotall, &escaped);
        if (end < 0)
            return 0;
        *code = escaped ? DEFER : value_code(s, k + 1, end - 1);
        return 1;
    }
    Size m = k;
    while (m < n && kch(s[m]))
        m++;
    if (m < n && s[m] > 0x20)
        return 0;
    *code = value_code(s, k, m);
    return 1;
}

/* Loki's logfmt token walk as level.py's anchored patterns spell it: from the start, skip spaces,
 * and at each token either the key `hint` (case-insensitively) with a well-formed tail, or a
 * well-formed token to step over: `{KCH}+(?:={KCH}*)?` ending at a space or the end, or (when
 * `quoted_tokens`) `{KCH}+={QV}`. Each step is forced, so the first hit is the regex's match.
 * 1 with *code set, or 0 when the walk meets a malformed token or the end first. */
static int logfmt_walk(Bytes s, Size n, const char *hint, Size hint_len, int dotall, int quoted_tokens, int *code)
{
    Size i = 0;
    for (;;) {
        while (i < n && s[i] <= 0x20)
            i++;
        if (ci_at(s, n, i, hint, hint_len) && level_tail(s, n, i + hint_len, dotall, code))
            return 1;
        Size j = i;
        while (j < n && kch(s[j]))
            j++;
        if (j == i)
            return 0;
        if (j < n && s[j] == '=') {
            j++;
            if (quoted_tokens && j < n && s[j] == '"') {
                int escaped = 0;
                if ((i = quoted(s, n, j, dotall, &escaped)) < 0)
                    return 0;
                continue; /* the next token may follow the closing quote directly */
            }
            while (j < n && kch(s[j]))
                j++;
        }
        if (j >= n || s[j] > 0x20)
            return 0;
        i = j + 1;
    }
}

/* _LOGFMT_HINTS: the level fields lower-cased and deduplicated, in Loki's priority order. */
static const struct { const char *hint; Size len; } HINTS[] = {
    {"level", 5}, {"log.level", 9}, {"severity", 8}, {"severitytext", 12}, {"lvl", 3}, {"severity_text", 13},
};

/* The slow lane (_LOGFMT_PATTERNS, hint by hint under (?s)), for lines that hold key text. */
static int logfmt_slow(Bytes s, Size n)
{
    int code;
    for (size_t h = 0; h < sizeof(HINTS) / sizeof(HINTS[0]); h++)
        if (logfmt_walk(s, n, HINTS[h].hint, HINTS[h].len, 1, 1, &code))
            return code;
    return NONE;
}

/* U+017F, which RE2's (?i) folds to s: `ſeverity` is a level key to the reference. */
static int has_long_s(Bytes s, Size n)
{
    for (const unsigned char *p = s; (p = memchr(p, 0xC5, n - (p - s))) != NULL; p++)
        if (p + 1 < s + n && p[1] == 0xBF)
            return 1;
    return 0;
}

static inline int key_text_at(Bytes s, Size n, Size i)
{
    int c = lower(s[i]);
    return (c == 'l' && (ci_at(s, n, i, "level", 5) || ci_at(s, n, i, "lvl", 3))) ||
           (c == 's' && ci_at(s, n, i, "severity", 8));
}

/* _KEY_TEXT (ASCII; has_long_s covers the rest): `level`, `lvl` or `severity` anywhere. */
static int has_key_text(Bytes s, Size n)
{
    Size i = 0;
#ifdef __SSE2__
    /* 16 bytes at a time, stopping only at an l or an s of either case. */
    const __m128i case_bit = _mm_set1_epi8(0x20), l = _mm_set1_epi8('l'), sl = _mm_set1_epi8('s');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_or_si128(_mm_loadu_si128((const __m128i *)(s + i)), case_bit);
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, l), _mm_cmpeq_epi8(x, sl)));
        for (; m; m &= m - 1)
            if (key_text_at(s, n, i + __builtin_ctz(m)))
                return 1;
    }
#endif
    for (; i < n; i++)
        if (key_text_at(s, n, i))
            return 1;
    return 0;
}

static int keyword_at(Bytes s, Size n, Size k)
{
    if (k >= n || !KW_FIRST[s[k]])
        return -1;
    for (size_t w = 0; w < sizeof(KEYWORDS) / sizeof(KEYWORDS[0]); w++) {
        Size len = KEYWORDS[w].len;
        if (ci_at(s, n, k, KEYWORDS[w].word, len) && (k + len == n || KW_AFTER[s[k + len]]))
            return KEYWORDS[w].code;
    }
    return -1;
}

/* _KEYWORDS, leftmost-first: at 0 the `^` branch first, then a boundary byte and the word. */
static int keyword(Bytes s, Size n)
{
    int code;
    if ((code = keyword_at(s, n, 0)) >= 0)
        return code;
    Size i = 0;
#ifdef __SSE2__
    /* 16 bytes at a time, stopping only at KW_BEFORE's bytes. */
    const __m128i b0 = _mm_set1_epi8(' '), b1 = _mm_set1_epi8('\t'), b2 = _mm_set1_epi8('\n'),
                  b3 = _mm_set1_epi8('['), b4 = _mm_set1_epi8('('), b5 = _mm_set1_epi8('{'),
                  b6 = _mm_set1_epi8('"'), b7 = _mm_set1_epi8('\''), b8 = _mm_set1_epi8('='),
                  b9 = _mm_set1_epi8('|');
    for (; i + 16 <= n; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, b0), _mm_cmpeq_epi8(x, b1)),
                         _mm_or_si128(_mm_cmpeq_epi8(x, b2), _mm_cmpeq_epi8(x, b3))),
            _mm_or_si128(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, b4), _mm_cmpeq_epi8(x, b5)),
                                      _mm_or_si128(_mm_cmpeq_epi8(x, b6), _mm_cmpeq_epi8(x, b7))),
                         _mm_or_si128(_mm_cmpeq_epi8(x, b8), _mm_cmpeq_epi8(x, b9))));
        for (unsigned m = (unsigned)_mm_movemask_epi8(hit); m; m &= m - 1)
            if ((code = keyword_at(s, n, i + __builtin_ctz(m) + 1)) >= 0)
                return code;
    }
#endif
    for (; i < n; i++)
        if (KW_BEFORE[s[i]] && (code = keyword_at(s, n, i + 1)) >= 0)
            return code;
    return UNKNOWN;
}

static int line_level(Bytes s, Size n)
{
    int code;
    if (is_json(s, n)) {
        if (s[0] != '{')
            return DEFER; /* spaces before the brace: jsonparser's own rule, rare */
        code = json_level(s, n);
    } else {
        /* Without `level` in the text the fast token walk cannot match: half the lines skip it. */
        int key_text = has_key_text(s, n);
        if (key_text && logfmt_walk(s, n, "level", 5, 0, 0, &code)) {
            /* _LOGFMT_FAST; its value is the one _LOGFMT_PLAIN finds: the same token's */
        } else if (has_long_s(s, n)) {
            return DEFER;
        } else if (key_text) {
            code = logfmt_slow(s, n);
        } else {
            code = NONE; /* neither key text nor (then) a key: the keyword search decides */
        }
    }
    if (code == DEFER)
        return DEFER;
    return code == NONE ? keyword(s, n) : code;
}

/* levels(data, offsets, n, wide) -> bytes: one int8 per line (codes index level.LEVELS, -2 =
 * defer). `offsets` holds n + 1 int32 (int64 when `wide`) offsets into `data`. */
static PyObject *levels(PyObject *self, PyObject *args)
{
    Py_buffer data, offsets;
    Py_ssize_t n;
    int wide;
    if (!PyArg_ParseTuple(args, "y*y*np", &data, &offsets, &n, &wide))
        return NULL;
    PyObject *out = NULL;
    Size width = wide ? 8 : 4;
    if (n < 0 || offsets.len < (n + 1) * width) {
        PyErr_SetString(PyExc_ValueError, "levels: offsets buffer shorter than n + 1 offsets");
        goto done;
    }
    out = PyBytes_FromStringAndSize(NULL, n);
    if (out == NULL)
        goto done;
    signed char *codes = (signed char *)PyBytes_AS_STRING(out);
    Bytes base = (Bytes)data.buf;
    const int32_t *o32 = (const int32_t *)offsets.buf;
    const int64_t *o64 = (const int64_t *)offsets.buf;
    for (Size i = 0; i < n; i++) {
        int64_t a = wide ? o64[i] : o32[i], b = wide ? o64[i + 1] : o32[i + 1];
        if (a < 0 || b < a || b > data.len) {
            Py_CLEAR(out);
            PyErr_SetString(PyExc_ValueError, "levels: offsets out of the data buffer");
            goto done;
        }
        codes[i] = (signed char)line_level(base + a, (Size)(b - a));
    }
done:
    PyBuffer_Release(&data);
    PyBuffer_Release(&offsets);
    return out;
}

static PyMethodDef METHODS[] = {
    {"levels", levels, METH_VARARGS, "Level codes of a string column's lines (-2: ask level.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_levelscan", "detected_level over an Arrow string column, in C.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__levelscan(void)
{
    init_tables();
    return PyModule_Create(&MODULE);
}
