/* The byte copy of rows.take_strings, in C.
 *
 * A flush gathers the head's string rows (spread over one Arrow chunk per push) into sorted row
 * groups. NumPy can compute where every row goes, but the copy itself is one memcpy per row (or
 * per run of consecutive rows): as a Python loop that was ~0.6 us a row, the largest single cost
 * of the server process during ingest after Parquet encoding. Here it is a plain loop.
 *
 * copy_rows(out, new_off, datas, chunk_of, start, order): for each i, copy the
 * new_off[i+1] - new_off[i] bytes of row order[i] (at start[order[i]] in datas[chunk_of[order[i]]],
 * chunk_of None meaning one chunk) to out[new_off[i]:]. Every index and extent is checked.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

typedef struct {
    Py_buffer view;
    int held;
} Held;

static int get_i64(PyObject *obj, Py_buffer *view, const char *what)
{
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0)
        return -1;
    if (view->itemsize != 8 || view->format == NULL || (strcmp(view->format, "l") != 0 && strcmp(view->format, "q") != 0)) {
        PyBuffer_Release(view);
        PyErr_Format(PyExc_TypeError, "%s must be a contiguous int64 array", what);
        return -1;
    }
    return 0;
}

static PyObject *copy_rows(PyObject *self, PyObject *args)
{
    PyObject *out_obj, *off_obj, *datas_obj, *chunk_obj, *start_obj, *order_obj;
    if (!PyArg_ParseTuple(args, "OOO!OOO", &out_obj, &off_obj, &PyTuple_Type, &datas_obj, &chunk_obj, &start_obj,
                          &order_obj))
        return NULL;

    Py_buffer out = {0}, off = {0}, chunk = {0}, start = {0}, order = {0};
    int have_out = 0, have_off = 0, have_chunk = 0, have_start = 0, have_order = 0;
    Py_ssize_t nd = PyTuple_GET_SIZE(datas_obj);
    Held *datas = PyMem_Calloc(nd ? nd : 1, sizeof(Held));
    PyObject *result = NULL;
    if (datas == NULL)
        return PyErr_NoMemory();

    if (PyObject_GetBuffer(out_obj, &out, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0)
        goto done;
    have_out = 1;
    if (get_i64(off_obj, &off, "new_off") < 0)
        goto done;
    have_off = 1;
    if (get_i64(start_obj, &start, "start") < 0)
        goto done;
    have_start = 1;
    if (get_i64(order_obj, &order, "order") < 0)
        goto done;
    have_order = 1;
    if (chunk_obj != Py_None) {
        if (get_i64(chunk_obj, &chunk, "chunk_of") < 0)
            goto done;
        have_chunk = 1;
    }
    for (Py_ssize_t k = 0; k < nd; k++) {
        if (PyObject_GetBuffer(PyTuple_GET_ITEM(datas_obj, k), &datas[k].view, PyBUF_C_CONTIGUOUS) < 0)
            goto done;
        datas[k].held = 1;
    }

    Py_ssize_t n = order.len / 8, n_all = start.len / 8;
    const int64_t *o = order.buf, *no = off.buf, *st = start.buf, *ch = have_chunk ? chunk.buf : NULL;
    char *dst = out.buf;
    if (off.len / 8 != n + 1 || (have_chunk && chunk.len / 8 != n_all)) {
        PyErr_SetString(PyExc_ValueError, "copy_rows: array lengths disagree");
        goto done;
    }
    if (!have_chunk && nd != 1) {
        PyErr_SetString(PyExc_ValueError, "copy_rows: chunk_of None needs exactly one data buffer");
        goto done;
    }
    /* The GIL is let go during the copy: the flush thread gathers while requests are served. */
    Py_ssize_t bad = -1;
    int outside = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        int64_t r = o[i], d = no[i], len = no[i + 1] - no[i];
        if (r < 0 || r >= n_all || d < 0 || len < 0 || d + len > out.len) {
            bad = i;
            break;
        }
        int64_t c = ch ? ch[r] : 0, s = st[r];
        if (c < 0 || c >= nd || s < 0 || s + len > datas[c].view.len) {
            bad = i;
            outside = 1;
            break;
        }
        memcpy(dst + d, (const char *)datas[c].view.buf + s, (size_t)len);
    }
    Py_END_ALLOW_THREADS
    if (bad >= 0) {
        PyErr_Format(PyExc_IndexError, outside ? "copy_rows: row %zd outside its chunk" : "copy_rows: row %zd out of range",
                     bad);
        goto done;
    }
    result = Py_NewRef(Py_None);

done:
    for (Py_ssize_t k = 0; k < nd; k++)
        if (datas[k].held)
            PyBuffer_Release(&datas[k].view);
    PyMem_Free(datas);
    if (have_out)
        PyBuffer_Release(&out);
    if (have_off)
        PyBuffer_Release(&off);
    if (have_chunk)
        PyBuffer_Release(&chunk);
    if (have_start)
        PyBuffer_Release(&start);
    if (have_order)
        PyBuffer_Release(&order);
    return result;
}

static PyMethodDef METHODS[] = {
    {"copy_rows", copy_rows, METH_VARARGS, "Copy the bytes of rows `order` of chunked string data to `out`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_gather", "Row gathers of string columns, in C.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__gather(void) { return PyModule_Create(&MODULE); }
