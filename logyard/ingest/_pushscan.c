/* A Loki JSON push body scanned straight into columns.
 *
 * `{"streams":[{"stream":{labels},"values":[["<ns>","<line>"(,{metadata})?],...]},...]}` becomes,
 * for the whole body: int64 timestamps, the lines as one UTF-8 buffer with int32 offsets (an Arrow
 * string array's two buffers), and per stream its label dict, its entry count and its metadata
 * dicts by entry index. orjson would build a list per entry and a str per line only for the decoder
 * to take them apart again; this is ~10x cheaper.
 *
 * json_push.py stays the reference and the error path: on anything outside that plain shape
 * (another key, a null, a number, a duplicate name, a timestamp that is not 1-19 digits, invalid
 * UTF-8 or a lone surrogate, malformed JSON) `scan` returns None and the caller decodes with orjson,
 * which produces the answer and the error text. Whatever is accepted here must decode to exactly
 * what json_push.decode_json gives (tests/ingest/test_json_fast.py compares them).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

typedef Py_ssize_t Size;

typedef struct {
    char *p;
    Size len, cap;
} Buf;

typedef struct {
    const unsigned char *s;
    Size n, i;
    Buf ts, offsets, lines, scratch;
    Size entries;
    int oom; /* a Python exception is set: raise it, do not fall back */
} Scan;

static int grow(Scan *sc, Buf *b, Size extra)
{
    if (b->len + extra <= b->cap)
        return 1;
    Size cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra)
        cap *= 2;
    char *p = PyMem_Realloc(b->p, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        sc->oom = 1;
        return 0;
    }
    b->p = p;
    b->cap = cap;
    return 1;
}

static inline void ws(Scan *sc)
{
    while (sc->i < sc->n) {
        unsigned c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            return;
        sc->i++;
    }
}

/* After whitespace, the byte c; consumed. */
static inline int expect(Scan *sc, unsigned char c)
{
    ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == c) {
        sc->i++;
        return 1;
    }
    return 0;
}

/* After whitespace, `,` (1) or the closing byte (0); -1 for anything else. */
static inline int next_or_close(Scan *sc, unsigned char close)
{
    ws(sc);
    if (sc->i >= sc->n)
        return -1;
    unsigned c = sc->s[sc->i++];
    return c == ',' ? 1 : c == close ? 0 : -1;
}

static int hex4(const unsigned char *p, unsigned *out)
{
    unsigned v = 0;
    for (int k = 0; k < 4; k++) {
        unsigned c = p[k], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if ((c | 32) >= 'a' && (c | 32) <= 'f')
            d = (c | 32) - 'a' + 10;
        else
            return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* The length of the valid UTF-8 sequence (2-4 bytes) at p, or 0: no overlongs, no surrogates
 * (orjson refuses them), nothing past U+10FFFF. */
static Size utf8_seq(const unsigned char *p, Size avail)
{
    unsigned c = p[0];
    if (c >= 0xC2 && c <= 0xDF)
        return avail >= 2 && (p[1] & 0xC0) == 0x80 ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (avail < 3 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0))
            return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (avail < 4 || (p[1] & 0xC0) != 0x80 || (p[2] & 0xC0) != 0x80 || (p[3] & 0xC0) != 0x80)
            return 0;
        if ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90))
            return 0;
        return 4;
    }
    return 0;
}

static void put_utf8(char *o, Size *len, unsigned cp)
{
    Size k = *len;
    if (cp < 0x80) {
        o[k++] = (char)cp;
    } else if (cp < 0x800) {
        o[k++] = (char)(0xC0 | (cp >> 6));
        o[k++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        o[k++] = (char)(0xE0 | (cp >> 12));
        o[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[k++] = (char)(0x80 | (cp & 0x3F));
    } else {
        o[k++] = (char)(0xF0 | (cp >> 18));
        o[k++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        o[k++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        o[k++] = (char)(0x80 | (cp & 0x3F));
    }
    *len = k;
}

/* A JSON string (after whitespace) decoded onto the end of `out` as UTF-8. 0: not a plain valid
 * string. The caller has made room: an escape never grows its text (\uXXXX: 6 bytes in, at most
 * 3 out; a pair: 12 in, 4 out), so the rest of the body plus 16 bytes of slack always fits. */
static int string(Scan *sc, Buf *out)
{
    ws(sc);
    const unsigned char *s = sc->s;
    Size i = sc->i, n = sc->n;
    if (i >= n || s[i] != '"')
        return 0;
    i++;
    char *o = out->p;
    Size k = out->len;
    for (;;) {
#ifdef __SSE2__
        /* 16 plain bytes at a time: none of `"`, `\`, a control byte or a non-ASCII byte
         * (signed, those two are the bytes below 0x20). */
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\'), low = _mm_set1_epi8(0x20);
        while (i + 16 <= n) {
            __m128i x = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)),
                                        _mm_cmplt_epi8(x, low));
            int mask = _mm_movemask_epi8(stop);
            _mm_storeu_si128((__m128i *)(o + k), x);
            if (mask) {
                int m = __builtin_ctz(mask);
                i += m;
                k += m;
                break;
            }
            i += 16;
            k += 16;
        }
#endif
        if (i >= n)
            return 0;
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '\\' && c != '"') {
            o[k++] = (char)c;
            i++;
        } else if (c == '"') {
            break;
        } else if (c >= 0x80) {
            Size len = utf8_seq(s + i, n - i);
            if (len == 0)
                return 0;
            memcpy(o + k, s + i, len);
            k += len;
            i += len;
        } else if (c == '\\') {
            if (i + 1 >= n)
                return 0;
            unsigned e = s[i + 1], cp;
            i += 2;
            switch (e) {
            case '"': o[k++] = '"'; break;
            case '\\': o[k++] = '\\'; break;
            case '/': o[k++] = '/'; break;
            case 'b': o[k++] = '\b'; break;
            case 'f': o[k++] = '\f'; break;
            case 'n': o[k++] = '\n'; break;
            case 'r': o[k++] = '\r'; break;
            case 't': o[k++] = '\t'; break;
            case 'u':
                if (n - i < 4 || !hex4(s + i, &cp))
                    return 0;
                i += 4;
                if (cp >= 0xDC00 && cp <= 0xDFFF)
                    return 0; /* a lone low surrogate */
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    unsigned lo;
                    if (n - i < 6 || s[i] != '\\' || s[i + 1] != 'u' || !hex4(s + i + 2, &lo) || lo < 0xDC00 ||
                        lo > 0xDFFF)
                        return 0; /* a high surrogate without its low half */
                    i += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                put_utf8(o, &k, cp);
                break;
            default:
                return 0;
            }
        } else {
            return 0; /* a raw control character */
        }
    }
    out->len = k;
    sc->i = i + 1;
    return 1;
}

/* A string (after whitespace) as a Python str, or NULL (sc->oom tells an error from a decline). */
static PyObject *pystring(Scan *sc)
{
    /* Room for the rest of the body (a decoded string is never longer than its text); the
     * buffer is kept between calls, so this allocates once per body size, not per string. */
    sc->scratch.len = 0;
    if (!grow(sc, &sc->scratch, sc->n - sc->i + 16) || !string(sc, &sc->scratch))
        return NULL;
    PyObject *o = PyUnicode_DecodeUTF8(sc->scratch.p ? sc->scratch.p : "", sc->scratch.len, "strict");
    if (o == NULL)
        sc->oom = 1;
    return o;
}

/* `{}` or `{"k":"v",...}` of strings into a new dict (NULL: declined or error). Duplicate names
 * are declined: orjson keeps the last value at the first one's place, and nobody sends them. */
static PyObject *string_map(Scan *sc)
{
    if (!expect(sc, '{'))
        return NULL;
    PyObject *d = PyDict_New();
    if (d == NULL) {
        sc->oom = 1;
        return NULL;
    }
    if (expect(sc, '}'))
        return d;
    for (;;) {
        PyObject *k = pystring(sc);
        if (k == NULL)
            goto fail;
        PyObject *v = expect(sc, ':') ? pystring(sc) : NULL;
        if (v == NULL) {
            Py_DECREF(k);
            goto fail;
        }
        Size before = PyDict_GET_SIZE(d);
        int rc = PyDict_SetItem(d, k, v);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc < 0) {
            sc->oom = 1;
            goto fail;
        }
        if (PyDict_GET_SIZE(d) == before)
            goto fail;
        int more = next_or_close(sc, '}');
        if (more < 0)
            goto fail;
        if (!more)
            return d;
    }
fail:
    Py_DECREF(d);
    return NULL;
}

/* A timestamp: a string of 1-19 ASCII digits within int64, as Arrow's string->int64 cast takes
 * it (leading zeros too); anything else is left to the reference for its error text. */
static int timestamp(Scan *sc)
{
    ws(sc);
    const unsigned char *s = sc->s;
    Size i = sc->i;
    if (i >= sc->n || s[i] != '"')
        return 0;
    i++;
    uint64_t v = 0;
    Size start = i;
    while (i < sc->n && s[i] >= '0' && s[i] <= '9' && i - start < 19)
        v = v * 10 + (s[i++] - '0');
    if (i == start || i >= sc->n || s[i] != '"' || v > (uint64_t)INT64_MAX)
        return 0;
    if (!grow(sc, &sc->ts, 8))
        return 0;
    int64_t t = (int64_t)v;
    memcpy(sc->ts.p + sc->ts.len, &t, 8);
    sc->ts.len += 8;
    sc->i = i + 1;
    return 1;
}

static int add_offset(Scan *sc)
{
    if (sc->lines.len > INT32_MAX || !grow(sc, &sc->offsets, 4))
        return 0; /* over 2 GiB of lines: not this path's business */
    int32_t o = (int32_t)sc->lines.len;
    memcpy(sc->offsets.p + sc->offsets.len, &o, 4);
    sc->offsets.len += 4;
    return 1;
}

/* `"values":[...]`'s array: entries appended to the columns; metadata into *sm by local index. */
static int values(Scan *sc, Size *count, PyObject **sm)
{
    if (!expect(sc, '['))
        return 0;
    if (expect(sc, ']'))
        return 1;
    for (Size idx = 0;; idx++) {
        if (!expect(sc, '[') || !timestamp(sc) || !expect(sc, ',') || !string(sc, &sc->lines) || !add_offset(sc))
            return 0;
        sc->entries++;
        (*count)++;
        int more = next_or_close(sc, ']');
        if (more < 0)
            return 0;
        if (more) {
            PyObject *meta = string_map(sc);
            if (meta == NULL || !expect(sc, ']')) {
                Py_XDECREF(meta);
                return 0;
            }
            if (PyDict_GET_SIZE(meta)) { /* json_push keeps only non-empty metadata */
                if (*sm == NULL && (*sm = PyDict_New()) == NULL) {
                    Py_DECREF(meta);
                    sc->oom = 1;
                    return 0;
                }
                PyObject *key = PyLong_FromSsize_t(idx);
                int rc = key == NULL ? -1 : PyDict_SetItem(*sm, key, meta);
                Py_XDECREF(key);
                if (rc < 0) {
                    Py_DECREF(meta);
                    sc->oom = 1;
                    return 0;
                }
            }
            Py_DECREF(meta);
        }
        int next = next_or_close(sc, ']'); /* between entries */
        if (next < 0)
            return 0;
        if (!next)
            return 1;
    }
}

/* The key of an object member, one of `want` (exact bytes, no escapes): its index, or -1. */
static int member(Scan *sc, const char *const *want, int count)
{
    ws(sc);
    for (int k = 0; k < count; k++) {
        Size len = (Size)strlen(want[k]);
        if (sc->n - sc->i >= len + 2 && sc->s[sc->i] == '"' && memcmp(sc->s + sc->i + 1, want[k], len) == 0 &&
            sc->s[sc->i + 1 + len] == '"') {
            sc->i += len + 2;
            return expect(sc, ':') ? k : -1;
        }
    }
    return -1;
}

/* One `{"stream":{...},"values":[...]}` (either order) as (labels, count, sm or None). */
static PyObject *stream(Scan *sc)
{
    static const char *const KEYS[] = {"stream", "values"};
    PyObject *labels = NULL, *sm = NULL;
    Size count = 0;
    int seen_values = 0;
    if (!expect(sc, '{'))
        return NULL;
    for (int m = 0; m < 2; m++) {
        int k = member(sc, KEYS, 2);
        if (k == 0 && labels == NULL) {
            if ((labels = string_map(sc)) == NULL)
                goto fail;
        } else if (k == 1 && !seen_values) {
            seen_values = 1;
            if (!values(sc, &count, &sm))
                goto fail;
        } else {
            goto fail;
        }
        if (next_or_close(sc, '}') != (m == 0 ? 1 : 0))
            goto fail;
    }
    PyObject *out = Py_BuildValue("(NnN)", labels, count, sm ? sm : Py_NewRef(Py_None));
    if (out == NULL)
        sc->oom = 1;
    return out;
fail:
    Py_XDECREF(labels);
    Py_XDECREF(sm);
    return NULL;
}

static PyObject *take(Buf *b)
{
    return PyBytes_FromStringAndSize(b->p ? b->p : "", b->len);
}

/* Kept from call to call (grown, never shrunk): fresh buffers each time cost page faults. scan
 * holds the GIL, but an allocation may run the garbage collector and a finalizer may let another
 * thread in: a call that finds them in use works on buffers of its own. */
static Buf TS, OFFSETS, SCRATCH;
static int BUSY;

/* scan(body) -> None | (streams, ts, offsets, data): streams a list of (labels dict, entry count,
 * {entry index: metadata dict} or None); ts the int64 timestamps of all entries in body order;
 * offsets (int32, entries + 1) and data the lines. */
static PyObject *scan(PyObject *self, PyObject *arg)
{
    Py_buffer body;
    if (PyObject_GetBuffer(arg, &body, PyBUF_SIMPLE) < 0)
        return NULL;
    static const char *const TOP[] = {"streams"};
    int shared = !BUSY;
    Scan sc = {.s = body.buf, .n = body.len};
    if (shared) {
        BUSY = 1;
        sc.ts = TS;
        sc.offsets = OFFSETS;
        sc.scratch = SCRATCH;
        sc.ts.len = sc.offsets.len = 0;
    }
    /* The lines go straight into the bytes object handed back. Decoded strings are never longer
     * than their JSON text: room for all of it (plus the SSE2 loop's 16 bytes of slack), once. */
    PyObject *streams = PyList_New(0), *out = NULL, *data = PyBytes_FromStringAndSize(NULL, body.len + 16);
    if (streams == NULL || data == NULL)
        goto done;
    sc.lines = (Buf){PyBytes_AS_STRING(data), 0, body.len + 16};
    if (!add_offset(&sc) || !expect(&sc, '{') || member(&sc, TOP, 1) != 0 || !expect(&sc, '['))
        goto decline;
    for (;;) {
        PyObject *st = stream(&sc);
        if (st == NULL)
            goto decline;
        int rc = PyList_Append(streams, st);
        Py_DECREF(st);
        if (rc < 0)
            goto done;
        int more = next_or_close(&sc, ']');
        if (more < 0)
            goto decline;
        if (!more)
            break;
    }
    if (!expect(&sc, '}'))
        goto decline;
    ws(&sc);
    if (sc.i != sc.n)
        goto decline;
    if (_PyBytes_Resize(&data, sc.lines.len) < 0)
        goto done; /* data is freed and NULL */
    out = Py_BuildValue("(ONNO)", streams, take(&sc.ts), take(&sc.offsets), data);
    goto done;
decline:
    if (!sc.oom)
        out = Py_NewRef(Py_None);
done:
    Py_XDECREF(streams);
    Py_XDECREF(data);
    if (shared) {
        TS = sc.ts;
        OFFSETS = sc.offsets;
        SCRATCH = sc.scratch;
        BUSY = 0;
    } else {
        PyMem_Free(sc.ts.p);
        PyMem_Free(sc.offsets.p);
        PyMem_Free(sc.scratch.p);
    }
    PyBuffer_Release(&body);
    return out;
}

static PyMethodDef METHODS[] = {
    {"scan", scan, METH_O, "A plain Loki JSON push body as columns, or None (decode it with json_push)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_pushscan", "Loki JSON push bodies scanned into columns, in C.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pushscan(void) { return PyModule_Create(&MODULE); }
