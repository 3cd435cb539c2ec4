/* Structured metadata of a stream's entries as canonical JSON strings, in C.
 *
 * validate.Validator.metadata is the reference: per entry with metadata it renames keys, drops
 * U+FFFD, adds `detected_level`, checks the size and count limits and dumps the dict with sorted
 * keys (orjson). Most entries need none of the renaming or level rules: their names are already
 * clean and none is a level field. For those this writes what orjson.dumps(meta | {level},
 * OPT_SORT_KEYS) writes, and counts names + values as Loki does; every other entry is returned
 * to the caller, which runs the reference on it (so limits, renames and messages stay there).
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdlib.h>
#include <string.h>

typedef Py_ssize_t Size;

typedef struct {
    const char *name;
    Size name_len;
    const char *value;
    Size value_len;
} Pair;

/* validate._SM_NAME_OK and not all underscores: a name normalize_metadata_name leaves alone. */
static int clean_name(const char *s, Size n)
{
    int letter = 0;
    if (n == 0)
        return 0;
    for (Size i = 0; i < n; i++) {
        char c = s[i];
        int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (i == 0 && c >= '0' && c <= '9')
            return 0;
        if (c == '_') {
            if (i > 0 && i + 1 < n && s[i + 1] == '_')
                return 0; /* `_(?!_)` after the first character */
        } else if (!alnum) {
            return 0;
        }
        letter |= c != '_';
    }
    return letter;
}

static int by_name(const void *a, const void *b)
{
    const Pair *x = a, *y = b;
    Size n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->name, y->name, n);
    return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* orjson's string escaping: `"`, `\`, and control characters (short forms where JSON has one). */
static Size escaped(const char *s, Size n, char *o)
{
    static const char HEX[] = "0123456789abcdef";
    Size k = 0;
    for (Size i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            o[k++] = '\\';
            o[k++] = (char)c;
        } else if (c < 0x20) {
            o[k++] = '\\';
            switch (c) {
            case '\b': o[k++] = 'b'; break;
            case '\f': o[k++] = 'f'; break;
            case '\n': o[k++] = 'n'; break;
            case '\r': o[k++] = 'r'; break;
            case '\t': o[k++] = 't'; break;
            default:
                o[k++] = 'u';
                o[k++] = '0';
                o[k++] = '0';
                o[k++] = HEX[c >> 4];
                o[k++] = HEX[c & 15];
            }
        } else {
            o[k++] = (char)c;
        }
    }
    return k;
}

/* One entry's JSON, or 0 to leave the entry to the reference (-1: error set). */
static int one(PyObject *meta, const char *level, PyObject *level_keys, Size max_size, Size max_count,
               PyObject **json, Size *nbytes)
{
    Size n = PyDict_GET_SIZE(meta);
    if (max_count && n > max_count)
        return 0;
    Pair stack[16];
    Pair *pairs = n + 1 <= 16 ? stack : PyMem_Malloc((n + 1) * sizeof(Pair));
    if (pairs == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int rc = 0;
    char *buf = NULL;
    Size count = 0, total = 2, size = 0, pos = 0;
    PyObject *k, *v;
    while (PyDict_Next(meta, &pos, &k, &v)) {
        if (!PyUnicode_Check(k) || !PyUnicode_Check(v))
            goto done;
        Pair *p = &pairs[count++];
        if ((p->name = PyUnicode_AsUTF8AndSize(k, &p->name_len)) == NULL ||
            (p->value = PyUnicode_AsUTF8AndSize(v, &p->value_len)) == NULL) {
            rc = -1;
            goto done;
        }
        if (!clean_name(p->name, p->name_len))
            goto done; /* renamed by the reference */
        if (level != NULL) {
            int has = PySet_Contains(level_keys, k);
            if (has < 0) {
                rc = -1;
                goto done;
            }
            if (has)
                goto done; /* the entry's own level field decides: the reference's rules */
        }
        if (memmem(p->value, p->value_len, "\xEF\xBF\xBD", 3) != NULL)
            goto done; /* U+FFFD is dropped by the reference */
        if (!(p->name_len == 14 && memcmp(p->name, "detected_level", 14) == 0))
            size += p->name_len + p->value_len; /* Loki counts before adding detected_level */
        total += p->name_len + 6 * p->value_len + 6; /* "name":"value", */
    }
    if (level != NULL) {
        Pair *p = &pairs[count++];
        *p = (Pair){"detected_level", 14, level, (Size)strlen(level)};
        total += 14 + p->value_len + 6;
    }
    qsort(pairs, count, sizeof(Pair), by_name);
    if ((buf = PyMem_Malloc(total)) == NULL) {
        PyErr_NoMemory();
        rc = -1;
        goto done;
    }
    Size o = 0;
    buf[o++] = '{';
    for (Size i = 0; i < count; i++) {
        if (i)
            buf[o++] = ',';
        buf[o++] = '"';
        memcpy(buf + o, pairs[i].name, pairs[i].name_len);
        o += pairs[i].name_len;
        buf[o++] = '"';
        buf[o++] = ':';
        buf[o++] = '"';
        o += escaped(pairs[i].value, pairs[i].value_len, buf + o);
        buf[o++] = '"';
    }
    buf[o++] = '}';
    if (max_size && o > max_size)
        goto done; /* may be over the limit: the reference counts and answers */
    if ((*json = PyUnicode_DecodeUTF8(buf, o, "strict")) == NULL) {
        rc = -1;
        goto done;
    }
    *nbytes = size;
    rc = 1;
done:
    PyMem_Free(buf);
    if (pairs != stack)
        PyMem_Free(pairs);
    return rc;
}

/* canonical(sm, codes, levels, level_keys, out, max_size, max_count) -> (bytes, declined)
 *
 * sm: {entry index: metadata dict}; codes: one int8 level code per entry (an index into the
 * `levels` tuple), or None when levels are off; out: the entries' metadata strings, set in place
 * for every entry done here. Returns the names + values bytes of those entries and the list of
 * entry indexes left to the reference, in `sm` order. */
static PyObject *canonical(PyObject *self, PyObject *args)
{
    PyObject *sm, *codes_obj, *levels, *level_keys, *out;
    Py_ssize_t max_size, max_count;
    if (!PyArg_ParseTuple(args, "O!OO!O!O!nn", &PyDict_Type, &sm, &codes_obj, &PyTuple_Type, &levels,
                          &PyFrozenSet_Type, &level_keys, &PyList_Type, &out, &max_size, &max_count))
        return NULL;
    Py_buffer codes = {0};
    int have_codes = codes_obj != Py_None;
    if (have_codes && PyObject_GetBuffer(codes_obj, &codes, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *declined = PyList_New(0), *result = NULL;
    if (declined == NULL)
        goto fail;
    Size total = 0, pos = 0;
    PyObject *key, *meta;
    while (PyDict_Next(sm, &pos, &key, &meta)) {
        Size i = PyLong_AsSsize_t(key);
        if (i == -1 && PyErr_Occurred())
            goto fail;
        if (i < 0 || i >= PyList_GET_SIZE(out) || (have_codes && i >= codes.len) || !PyDict_Check(meta)) {
            PyErr_SetString(PyExc_ValueError, "canonical: entry index out of range or metadata not a dict");
            goto fail;
        }
        const char *level = NULL;
        if (have_codes) {
            int code = ((const signed char *)codes.buf)[i];
            if (code < 0 || code >= PyTuple_GET_SIZE(levels) || !PyUnicode_Check(PyTuple_GET_ITEM(levels, code))) {
                PyErr_SetString(PyExc_ValueError, "canonical: level code out of range");
                goto fail;
            }
            if ((level = PyUnicode_AsUTF8(PyTuple_GET_ITEM(levels, code))) == NULL)
                goto fail;
        }
        PyObject *json = NULL;
        Size nbytes = 0;
        int rc = one(meta, level, level_keys, max_size, max_count, &json, &nbytes);
        if (rc < 0)
            goto fail;
        if (rc == 0) {
            if (PyList_Append(declined, key) < 0)
                goto fail;
            continue;
        }
        if (PyList_SetItem(out, i, json) < 0) /* steals json */
            goto fail;
        total += nbytes;
    }
    result = Py_BuildValue("(nO)", total, declined);
fail:
    Py_XDECREF(declined);
    if (have_codes)
        PyBuffer_Release(&codes);
    return result;
}

static PyMethodDef METHODS[] = {
    {"canonical", canonical, METH_VARARGS, "Canonical metadata JSON of the plain entries; the rest are returned."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef MODULE = {
    PyModuleDef_HEAD_INIT, "_metajson", "Structured metadata as canonical JSON strings, in C.", -1, METHODS,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__metajson(void) { return PyModule_Create(&MODULE); }
