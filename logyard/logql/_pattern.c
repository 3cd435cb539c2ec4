/* One capture of Loki's pattern matcher over a whole line column, and its value as a plain number.
 *
 * `| pattern "<ip> … <status> …" | status >= 500` runs the pattern on every line, one row at a
 * time in Python (stages/pattern.py), to keep a few. This finds the capture the label filter reads
 * in every line at once, exactly as that matcher does (a leading literal must start the line, each
 * further literal is the leftmost after the previous one, a missing literal makes the capture run
 * to the end of the line), so the rows the filter would drop are known before the per-row stages
 * run (pipeline.py's pattern prefilter).
 *
 * The same matcher gives `sum by (status) (count_over_time({…} | pattern "…" [5m]))` every named
 * capture it groups by or filters on (parsed_columns.py), for the whole column.
 *
 * number_capture(offsets, data, lead, literals, k) -> (codes, values)
 *   offsets: int64[n + 1] of a large_string column, data its bytes; lead: the leading literal
 *   (b"" for none); literals: the literal after each capture in order, None after the last;
 *   k: the capture wanted. codes: uint8[n], 0 where the line does not reach capture k, 1 where the
 *   captured text is a plain decimal number (-?[0-9]{1,15}(.[0-9]{1,15})?) whose value is in
 *   values (float64[n]), 2 where it is anything else. Runs without the GIL.
 *
 * captures(offsets, data, lead, literals, wanted) -> (reached, [(offsets, data), ...])
 *   The same arguments but `wanted`, a tuple of capture indexes: reached: uint8[n], how many
 *   captures the line reaches (0: it matches nothing); per wanted capture its text in every line
 *   as large_string buffers (int64[n + 1] offsets, data), "" where the line does not reach it.
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_CAPTURES 64

/* 1 and the value when [p, p + n) is a plain decimal number short enough to parse exactly, else 2. */
static uint8_t plain_number(const char *p, Py_ssize_t n, double *out)
{
    char buf[40];
    Py_ssize_t i = 0, digits = 0, frac = 0;
    if (n <= 0 || n > 33)
        return 2;
    if (p[0] == '-')
        i = 1;
    while (i < n && p[i] >= '0' && p[i] <= '9') {
        i++;
        digits++;
    }
    if (digits == 0 || digits > 15)
        return 2;
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && p[i] >= '0' && p[i] <= '9') {
            i++;
            frac++;
        }
        if (frac == 0 || frac > 15)
            return 2;
    }
    if (i != n)
        return 2;
    memcpy(buf, p, (size_t)n);
    buf[n] = 0;
    *out = strtod(buf, NULL); /* correctly rounded, as Go's strconv.ParseFloat */
    return 1;
}

/* The literals tuple read into lit/lit_len; -1 with ValueError set when it is malformed. */
static int read_literals(PyObject *lits_obj, const char **lit, Py_ssize_t *lit_len)
{
    Py_ssize_t ncap = PyTuple_GET_SIZE(lits_obj);
    if (ncap < 1 || ncap > MAX_CAPTURES) {
        PyErr_SetString(PyExc_ValueError, "captures out of range");
        return -1;
    }
    for (Py_ssize_t c = 0; c < ncap; c++) {
        PyObject *o = PyTuple_GET_ITEM(lits_obj, c);
        if (o == Py_None && c == ncap - 1) {
            lit[c] = NULL;
            lit_len[c] = 0;
        } else if (PyBytes_Check(o) && PyBytes_GET_SIZE(o) > 0) {
            lit[c] = PyBytes_AS_STRING(o);
            lit_len[c] = PyBytes_GET_SIZE(o);
        } else {
            PyErr_SetString(PyExc_ValueError, "literals: non-empty bytes, None only after the last capture");
            return -1;
        }
    }
    return 0;
}

/* 0, or -1 with ValueError set when the offsets leave the data. */
static int check_offsets(const int64_t *o, Py_ssize_t n, Py_ssize_t len)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i] < 0 || o[i + 1] < o[i] || o[i + 1] > len) {
            PyErr_SetString(PyExc_ValueError, "offsets out of range");
            return -1;
        }
    }
    return 0;
}

/* Loki's matcher on the line [p, end), as far as capture `last`: each reached capture's text is
 * [a[c], b[c]); returns how many captures were reached. */
static Py_ssize_t match_line(const char *p, const char *end, const char *lp, Py_ssize_t ll, const char **lit,
                             const Py_ssize_t *lit_len, Py_ssize_t last, const char **a, const char **b)
{
    if (p == end)
        return 0; /* Loki: an empty line matches nothing */
    if (ll) {
        if (end - p < ll || memcmp(p, lp, (size_t)ll) != 0)
            return 0;
        p += ll;
    }
    for (Py_ssize_t c = 0; c <= last; c++) {
        const char *j = lit[c] ? memmem(p, (size_t)(end - p), lit[c], (size_t)lit_len[c]) : NULL;
        a[c] = p;
        if (j == NULL) { /* the last capture, or a missing literal: the rest of the line */
            b[c] = end;
            return c + 1;
        }
        b[c] = j;
        p = j + lit_len[c];
    }
    return last + 1;
}

static PyObject *number_capture(PyObject *self, PyObject *args)
{
    Py_buffer off = {0}, data = {0}, lead = {0};
    PyObject *lits_obj, *codes_obj = NULL, *values_obj = NULL, *result = NULL;
    Py_ssize_t k;
    const char *lit[MAX_CAPTURES];
    Py_ssize_t lit_len[MAX_CAPTURES];
    if (!PyArg_ParseTuple(args, "y*y*y*O!n", &off, &data, &lead, &PyTuple_Type, &lits_obj, &k))
        return NULL;
    Py_ssize_t ncap = PyTuple_GET_SIZE(lits_obj);
    Py_ssize_t n = off.len / 8 - 1;
    if (read_literals(lits_obj, lit, lit_len) < 0)
        goto done;
    if (k < 0 || k >= ncap || n < 0) {
        PyErr_SetString(PyExc_ValueError, "captures out of range");
        goto done;
    }
    const int64_t *o = off.buf;
    if (check_offsets(o, n, data.len) < 0)
        goto done;
    codes_obj = PyBytes_FromStringAndSize(NULL, n);
    values_obj = PyBytes_FromStringAndSize(NULL, n * 8);
    if (codes_obj == NULL || values_obj == NULL)
        goto done;
    uint8_t *codes = (uint8_t *)PyBytes_AS_STRING(codes_obj);
    double *values = (double *)PyBytes_AS_STRING(values_obj);
    const char *base = data.buf, *lp = lead.buf;
    Py_ssize_t ll = lead.len;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *a[MAX_CAPTURES], *b[MAX_CAPTURES];
        codes[i] = 0;
        values[i] = 0.0;
        if (match_line(base + o[i], base + o[i + 1], lp, ll, lit, lit_len, k, a, b) > k)
            codes[i] = plain_number(a[k], b[k] - a[k], &values[i]);
    }
    Py_END_ALLOW_THREADS
    result = PyTuple_Pack(2, codes_obj, values_obj);
done:
    Py_XDECREF(codes_obj);
    Py_XDECREF(values_obj);
    PyBuffer_Release(&off);
    PyBuffer_Release(&data);
    PyBuffer_Release(&lead);
    return result;
}

static PyObject *captures(PyObject *self, PyObject *args)
{
    Py_buffer off = {0}, data = {0}, lead = {0};
    PyObject *lits_obj, *wanted_obj, *reached_obj = NULL, *outs = NULL, *result = NULL;
    const char *lit[MAX_CAPTURES];
    Py_ssize_t lit_len[MAX_CAPTURES], want[MAX_CAPTURES];
    int64_t *spans = NULL;
    if (!PyArg_ParseTuple(args, "y*y*y*O!O!", &off, &data, &lead, &PyTuple_Type, &lits_obj, &PyTuple_Type,
                          &wanted_obj))
        return NULL;
    Py_ssize_t ncap = PyTuple_GET_SIZE(lits_obj), w = PyTuple_GET_SIZE(wanted_obj), n = off.len / 8 - 1, last = 0;
    if (read_literals(lits_obj, lit, lit_len) < 0)
        goto done;
    if (n < 0 || w > MAX_CAPTURES) {
        PyErr_SetString(PyExc_ValueError, "captures out of range");
        goto done;
    }
    for (Py_ssize_t c = 0; c < w; c++) {
        want[c] = PyLong_AsSsize_t(PyTuple_GET_ITEM(wanted_obj, c));
        if (want[c] < 0 || want[c] >= ncap) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_ValueError, "captures out of range");
            goto done;
        }
        if (want[c] > last)
            last = want[c];
    }
    const int64_t *o = off.buf;
    if (check_offsets(o, n, data.len) < 0)
        goto done;
    reached_obj = PyBytes_FromStringAndSize(NULL, n);
    spans = PyMem_Malloc(sizeof(int64_t) * 2 * (size_t)(n * w + 1));
    if (reached_obj == NULL || spans == NULL) {
        if (spans == NULL)
            PyErr_NoMemory();
        goto done;
    }
    uint8_t *reached = (uint8_t *)PyBytes_AS_STRING(reached_obj);
    const char *base = data.buf, *lp = lead.buf;
    Py_ssize_t ll = lead.len;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *a[MAX_CAPTURES], *b[MAX_CAPTURES];
        Py_ssize_t r = match_line(base + o[i], base + o[i + 1], lp, ll, lit, lit_len, last, a, b);
        reached[i] = (uint8_t)r;
        for (Py_ssize_t c = 0; c < w; c++) {
            int64_t *sp = spans + 2 * (i * w + c);
            sp[0] = want[c] < r ? a[want[c]] - base : 0;
            sp[1] = want[c] < r ? b[want[c]] - base : 0;
        }
    }
    Py_END_ALLOW_THREADS
    outs = PyList_New(w);
    if (outs == NULL)
        goto done;
    for (Py_ssize_t c = 0; c < w; c++) {
        Py_ssize_t total = 0;
        for (Py_ssize_t i = 0; i < n; i++)
            total += spans[2 * (i * w + c) + 1] - spans[2 * (i * w + c)];
        PyObject *offs = PyBytes_FromStringAndSize(NULL, 8 * (n + 1));
        PyObject *text = PyBytes_FromStringAndSize(NULL, total);
        PyObject *pair = (offs && text) ? PyTuple_Pack(2, offs, text) : NULL;
        Py_XDECREF(offs);
        Py_XDECREF(text);
        if (pair == NULL)
            goto done;
        PyList_SET_ITEM(outs, c, pair);
        int64_t *to = (int64_t *)PyBytes_AS_STRING(offs);
        char *td = PyBytes_AS_STRING(text);
        int64_t at = 0;
        to[0] = 0;
        for (Py_ssize_t i = 0; i < n; i++) {
            const int64_t *sp = spans + 2 * (i * w + c);
            memcpy(td + at, base + sp[0], (size_t)(sp[1] - sp[0]));
            at += sp[1] - sp[0];
            to[i + 1] = at;
        }
    }
    result = PyTuple_Pack(2, reached_obj, outs);
done:
    PyMem_Free(spans);
    Py_XDECREF(reached_obj);
    Py_XDECREF(outs);
    PyBuffer_Release(&off);
    PyBuffer_Release(&data);
    PyBuffer_Release(&lead);
    return result;
}

static PyMethodDef METHODS[] = {
    {"number_capture", number_capture, METH_VARARGS, "One pattern capture of every line, as a plain number where it is one."},
    {"captures", captures, METH_VARARGS, "Pattern captures of every line, as large_string buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_pattern", "Loki's pattern matcher over a line column, in C.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pattern(void) { return PyModule_Create(&MODULE); }
