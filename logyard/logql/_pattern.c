/* One capture of Loki's pattern matcher over a whole line column, and its value as a plain number.
 *
 * `| pattern "<ip> … <status> …" | status >= 500` runs the pattern on every line, one row at a
 * time in Python (stages/pattern.py), to keep a few. This finds the capture the label filter reads
 * in every line at once, exactly as that matcher does (a leading literal must start the line, each
 * further literal is the leftmost after the previous one, a missing literal makes the capture run
 * to the end of the line), so the rows the filter would drop are known before the per-row stages
 * run (pipeline.py's pattern prefilter).
 *
 * number_capture(offsets, data, lead, literals, k) -> (codes, values)
 *   offsets: int64[n + 1] of a large_string column, data its bytes; lead: the leading literal
 *   (b"" for none); literals: the literal after each capture in order, None after the last;
 *   k: the capture wanted. codes: uint8[n], 0 where the line does not reach capture k, 1 where the
 *   captured text is a plain decimal number (-?[0-9]{1,15}(.[0-9]{1,15})?) whose value is in
 *   values (float64[n]), 2 where it is anything else. Runs without the GIL.
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
    if (ncap < 1 || ncap > MAX_CAPTURES || k < 0 || k >= ncap || n < 0) {
        PyErr_SetString(PyExc_ValueError, "captures out of range");
        goto done;
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
            goto done;
        }
    }
    const int64_t *o = off.buf;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (o[i] < 0 || o[i + 1] < o[i] || o[i + 1] > data.len) {
            PyErr_SetString(PyExc_ValueError, "offsets out of range");
            goto done;
        }
    }
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
        const char *p = base + o[i], *end = base + o[i + 1], *a = NULL, *b = NULL;
        codes[i] = 0;
        values[i] = 0.0;
        if (p == end)
            continue; /* Loki: an empty line matches nothing */
        if (ll) {
            if (end - p < ll || memcmp(p, lp, (size_t)ll) != 0)
                continue;
            p += ll;
        }
        for (Py_ssize_t c = 0; c < ncap; c++) {
            const char *j = lit[c] ? memmem(p, (size_t)(end - p), lit[c], (size_t)lit_len[c]) : NULL;
            if (j == NULL) { /* the last capture, or a missing literal: the rest of the line */
                if (c == k) {
                    a = p;
                    b = end;
                }
                break;
            }
            if (c == k) {
                a = p;
                b = j;
                break;
            }
            p = j + lit_len[c];
        }
        if (a != NULL)
            codes[i] = plain_number(a, b - a, &values[i]);
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

static PyMethodDef METHODS[] = {
    {"number_capture", number_capture, METH_VARARGS, "One pattern capture of every line, as a plain number where it is one."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_pattern", "Loki's pattern matcher over a line column, in C.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__pattern(void) { return PyModule_Create(&MODULE); }
