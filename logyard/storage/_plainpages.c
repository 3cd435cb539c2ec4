/* PLAIN BYTE_ARRAY values of one Parquet data page, as an Arrow large_string's buffers.
 *
 * A needle query reads only the pages of a row group's line (and metadata) column that may hold it
 * (pages.py); pyarrow decodes only whole column chunks, so the page's values are decoded here:
 * each is a 4-byte little-endian length and that many bytes, one after the other. As a Python loop
 * that is ~0.3 us a value, as much as decoding the whole chunk with pyarrow.
 *
 * plain_strings(page, pos, n) -> (offsets, data): the n values starting at byte `pos` of `page`,
 * which must end exactly where the page does; offsets are n + 1 int64 from 0. ValueError if not.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static PyObject *plain_strings(PyObject *self, PyObject *args)
{
    Py_buffer page = {0};
    Py_ssize_t pos, n;
    if (!PyArg_ParseTuple(args, "y*nn", &page, &pos, &n))
        return NULL;
    PyObject *off_obj = NULL, *data_obj = NULL, *result = NULL;
    const uint8_t *p = page.buf;
    Py_ssize_t size = page.len;
    if (pos < 0 || n < 0 || pos > size || (size - pos) / 4 < n) {
        PyErr_SetString(PyExc_ValueError, "page too short for its values");
        goto done;
    }
    Py_ssize_t data_len = size - pos - 4 * n;
    off_obj = PyBytes_FromStringAndSize(NULL, (n + 1) * 8);
    data_obj = PyBytes_FromStringAndSize(NULL, data_len);
    if (off_obj == NULL || data_obj == NULL)
        goto done;
    int64_t *off = (int64_t *)PyBytes_AS_STRING(off_obj);
    char *data = PyBytes_AS_STRING(data_obj);
    Py_ssize_t at = pos, out = 0;
    off[0] = 0;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (size - at < 4) {
            out = -1;
            break;
        }
        uint32_t len = (uint32_t)p[at] | ((uint32_t)p[at + 1] << 8) | ((uint32_t)p[at + 2] << 16) | ((uint32_t)p[at + 3] << 24);
        at += 4;
        if ((uint64_t)len > (uint64_t)(size - at) || (uint64_t)len > (uint64_t)(data_len - out)) {
            out = -1;
            break;
        }
        memcpy(data + out, p + at, len);
        at += len;
        out += len;
        off[i + 1] = out;
    }
    Py_END_ALLOW_THREADS
    if (out < 0 || at != size || out != data_len) {
        PyErr_SetString(PyExc_ValueError, "PLAIN values do not fill their page");
        goto done;
    }
    result = PyTuple_Pack(2, off_obj, data_obj);
done:
    Py_XDECREF(off_obj);
    Py_XDECREF(data_obj);
    PyBuffer_Release(&page);
    return result;
}

static PyMethodDef METHODS[] = {
    {"plain_strings", plain_strings, METH_VARARGS, "The PLAIN BYTE_ARRAY values of a page as large_string buffers."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_plainpages", "PLAIN BYTE_ARRAY page decoding, in C.", -1, METHODS, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__plainpages(void) { return PyModule_Create(&MODULE); }
