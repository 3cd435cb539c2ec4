/* The labels `| logfmt` gives a few names, for a whole line column at once.
 *
 * `sum by (level) (count_over_time({…} | logfmt [5m]))` ran the logfmt stage (stages/logfmt.py) on
 * every row in Python, ~30 us a row: a minute for the bench day. With parser hints only the
 * grouped names are extracted, and for them the stage's answer is each name's first non-empty
 * value among the pairs whose key sanitizes to it. This computes that answer in C, scanning each
 * line as stages/logfmt.py's `decode` does (Loki's decoder: blanks, bare keys, `=`, bare or
 * double-quoted values, errors that skip to the next blank or end the line).
 *
 * A row is declined (left to the Python stage) when this could answer differently from it: any
 * byte that is not valid UTF-8 or a U+FFFD in the line (the stage replaces or rejects those), or a
 * quoted value with a \u escape.
 *
 * first_values(offsets, data, names) -> (declined, [(offsets, data, present), ...])
 *   offsets: int64[n + 1] of a large_string column, data its bytes, names: a tuple of sanitized
 *   label names (bytes). declined and present: uint8[n]; per name the values as large_string
 *   buffers (a row without the name holds ""). Runs without the GIL.
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
    memcpy(out->data + out->len, v, (size_t)n);
    out->len += n;
    out->present[row] = 1;
    return 0;
}

enum { LINE_OK = 0, LINE_DECLINED = 1, NO_MEMORY = 2 };

/* One line: each name's first non-empty value (appended to its Out, `got[j]` set). */
static int scan_line(const uint8_t *p, Py_ssize_t n, Out *outs, int k, Py_ssize_t row, uint8_t *scratch)
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

static PyObject *first_values(PyObject *self, PyObject *args)
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
    if (k < 1 || k > MAX_NAMES) {
        PyErr_SetString(PyExc_ValueError, "between 1 and 32 names");
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
        int s = clean_utf8(p, len) ? scan_line(p, len, outs, k, i, scratch) : LINE_DECLINED;
        if (s == LINE_DECLINED) {
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

static PyMethodDef METHODS[] = {
    {"first_values", first_values, METH_VARARGS, "Each name's first non-empty logfmt value per line; declined rows."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_logfmt", "logfmt label extraction over a line column, in C.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__logfmt(void) { return PyModule_Create(&MODULE); }
