/* Timestamps written inside log lines, coded against the row's own timestamp.
 *
 * Most log lines start with their own time ("ts=2026-01-01T10:00:00.123Z", "[01/Jan/2026:10:00:00
 * +0000]", "2026-01-01 10:00:00.123 UTC", ...), and it is the entry's timestamp or its truncation
 * when the shipper parsed the entry time from the line (Promtail's timestamp stage) or the app and
 * Docker stamped it within the same millisecond. The `ts` column already holds those bytes: in the
 * line text they are the least compressible part (random sub-second digits), about a fifth of the
 * compressed line column. Compacted blocks store each line with its first such rendering cut out
 * and a code saying where and in which format; reads render it back from `ts`.
 *
 * code = (byte position << 5) | format id; 0 = nothing cut. Any line round-trips: only bytes equal
 * to a rendering of the row's own timestamp are cut, and the rendering is ASCII, so the stored
 * line stays valid UTF-8.
 *
 * strip(offsets, data, ts) -> (offsets, data, codes)      offsets: int64[n+1] (large_string)
 * restore(offsets, data, ts, codes) -> (offsets, data)    ts: int64[n], codes: int32[n]
 * contains(offsets, data, needle, ts, codes) -> mask      mask: uint8[n], 1 where the restored line
 *     holds `needle` (bytes): the stored lines are searched as they are, a cut rendering is put
 *     back only around its cut and only where the needle could overlap it. ts and codes may be
 *     None (lines with nothing cut).
 * All return bytes objects holding the Arrow buffers (or the mask), and run without the GIL.
 */
#define _GNU_SOURCE /* memmem */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define AVX2_DISPATCH 1 /* an AVX2 scan compiled beside the baseline one, picked at import */
static int use_avx2;
#endif

/* A rendering is looked for only this far into a line: log times come first, and long lines must
 * not cost a scan of their whole text. */
#define SEARCH_WINDOW 1024
#define MAX_OCCURRENCES 4 /* HH:MM:SS hits examined per line (durations, other times) */

enum prefix { P_ISO_T, P_ISO_SP, P_SLASH, P_GIN, P_CLF, P_SYSLOG, P_KLOG, P_NONE };

typedef struct {
    unsigned char prefix;
    unsigned char digits; /* fraction digits after HH:MM:SS: 0, 3, 6 or 9 */
    char sep;             /* fraction separator */
} Format;

/* Format ids are stored in blocks: append only, never reorder. Longer renderings of a family come
 * first so that a line with nanoseconds is not cut at its milliseconds. */
static const Format FORMATS[] = {
    {0, 0, 0},             /* 0: unused (no cut) */
    {P_ISO_T, 9, '.'},     /* 1: 2026-01-01T10:00:00.123456789 */
    {P_ISO_T, 6, '.'},     /* 2 */
    {P_ISO_T, 3, '.'},     /* 3 */
    {P_ISO_T, 0, 0},       /* 4: 2026-01-01T10:00:00 */
    {P_ISO_SP, 9, '.'},    /* 5: 2026-01-01 10:00:00.123456789 */
    {P_ISO_SP, 6, '.'},    /* 6 */
    {P_ISO_SP, 3, '.'},    /* 7: PostgreSQL */
    {P_ISO_SP, 3, ','},    /* 8: Python logging */
    {P_ISO_SP, 0, 0},      /* 9 */
    {P_SLASH, 6, '.'},     /* 10: Go log with microseconds: 2026/01/01 10:00:00.123456 */
    {P_SLASH, 0, 0},       /* 11: Go log, nginx error log */
    {P_GIN, 0, 0},         /* 12: 2026/01/01 - 10:00:00 */
    {P_CLF, 0, 0},         /* 13: 01/Jan/2026:10:00:00 (access logs) */
    {P_SYSLOG, 0, 0},      /* 14: Jan  1 10:00:00 */
    {P_KLOG, 6, '.'},      /* 15: 0101 10:00:00.123456 (glog/klog) */
    {P_NONE, 9, '.'},      /* 16: 10:00:00.123456789 */
    {P_NONE, 6, '.'},      /* 17 */
    {P_NONE, 3, '.'},      /* 18 */
    {P_NONE, 0, 0},        /* 19: 10:00:00 */
};
#define N_FORMATS ((int)(sizeof(FORMATS) / sizeof(FORMATS[0])))

static const int PREFIX_LEN[] = {11, 11, 11, 13, 12, 7, 5, 0};
static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

typedef struct {
    int year, month, day, hour, minute, second;
    int32_t frac; /* nanoseconds; int64 ns span years 1677-2262: always four digits */
} Civil;

static Civil civil(int64_t ns)
{
    Civil c;
    int64_t secs = ns / 1000000000, frac = ns % 1000000000;
    if (frac < 0) {
        frac += 1000000000;
        secs -= 1;
    }
    int64_t days = secs / 86400, sod = secs % 86400;
    if (sod < 0) {
        sod += 86400;
        days -= 1;
    }
    /* days since 1970-01-01 to a proleptic Gregorian date (H. Hinnant's civil_from_days) */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t d = doy - (153 * mp + 2) / 5 + 1;
    int64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2)
        y += 1;
    c.year = (int)y;
    c.month = (int)m;
    c.day = (int)d;
    c.hour = (int)(sod / 3600);
    c.minute = (int)(sod / 60 % 60);
    c.second = (int)(sod % 60);
    c.frac = (int32_t)frac;
    return c;
}

static inline char *put2(char *p, int v)
{
    p[0] = (char)('0' + v / 10);
    p[1] = (char)('0' + v % 10);
    return p + 2;
}

static inline char *put4(char *p, int v)
{
    p[0] = (char)('0' + v / 1000);
    p[1] = (char)('0' + v / 100 % 10);
    p[2] = (char)('0' + v / 10 % 10);
    p[3] = (char)('0' + v % 10);
    return p + 4;
}

static inline int format_len(int f)
{
    const Format *fm = &FORMATS[f];
    return PREFIX_LEN[fm->prefix] + 8 + (fm->digits ? 1 + fm->digits : 0);
}

/* The rendering of `c` in format f into out (at most 32 bytes); its length. */
static int render(const Civil *c, int f, char *out)
{
    const Format *fm = &FORMATS[f];
    char *p = out;
    switch (fm->prefix) {
    case P_ISO_T:
    case P_ISO_SP:
        p = put4(p, c->year);
        *p++ = '-';
        p = put2(p, c->month);
        *p++ = '-';
        p = put2(p, c->day);
        *p++ = fm->prefix == P_ISO_T ? 'T' : ' ';
        break;
    case P_SLASH:
    case P_GIN:
        p = put4(p, c->year);
        *p++ = '/';
        p = put2(p, c->month);
        *p++ = '/';
        p = put2(p, c->day);
        *p++ = ' ';
        if (fm->prefix == P_GIN) {
            *p++ = '-';
            *p++ = ' ';
        }
        break;
    case P_CLF:
        p = put2(p, c->day);
        *p++ = '/';
        memcpy(p, MONTHS + 3 * (c->month - 1), 3);
        p += 3;
        *p++ = '/';
        p = put4(p, c->year);
        *p++ = ':';
        break;
    case P_SYSLOG:
        memcpy(p, MONTHS + 3 * (c->month - 1), 3);
        p += 3;
        *p++ = ' ';
        *p++ = c->day < 10 ? ' ' : (char)('0' + c->day / 10);
        *p++ = (char)('0' + c->day % 10);
        *p++ = ' ';
        break;
    case P_KLOG:
        p = put2(p, c->month);
        p = put2(p, c->day);
        *p++ = ' ';
        break;
    default:
        break;
    }
    p = put2(p, c->hour);
    *p++ = ':';
    p = put2(p, c->minute);
    *p++ = ':';
    p = put2(p, c->second);
    if (fm->digits) {
        *p++ = fm->sep;
        int32_t v = c->frac;
        char digits[9];
        for (int i = 8; i >= 0; i--) {
            digits[i] = (char)('0' + v % 10);
            v /= 10;
        }
        memcpy(p, digits, fm->digits);
        p += fm->digits;
    }
    return (int)(p - out);
}

/* Where and in which format a rendering of `c` sits in line[0:n]: (start << 5) | f, or 0. */
static int32_t find(const char *line, int64_t n, const Civil *c)
{
    if (n < 8)
        return 0;
    char hms[8], buf[32];
    put2(hms, c->hour);
    hms[2] = ':';
    put2(hms + 3, c->minute);
    hms[5] = ':';
    put2(hms + 6, c->second);
    int64_t window = n < SEARCH_WINDOW ? n : SEARCH_WINDOW;
    const char *at = line;
    int32_t best = 0;
    int best_len = 0;
    /* A bare time of day may be a duration or another clock: a later dated rendering wins. */
    for (int k = 0; k < MAX_OCCURRENCES && line + window - at >= 8; k++) {
        const char *hit = memmem(at, (size_t)(line + window - at), hms, 8);
        if (hit == NULL)
            break;
        int64_t p = hit - line;
        for (int f = 1; f < N_FORMATS; f++) {
            const Format *fm = &FORMATS[f];
            int64_t start = p - PREFIX_LEN[fm->prefix];
            int len = format_len(f);
            if (start < 0 || start + len > n || len <= best_len)
                continue;
            if (fm->digits && line[p + 8] != fm->sep)
                continue;
            render(c, f, buf);
            if (memcmp(line + start, buf, (size_t)len) == 0) {
                if (fm->prefix != P_NONE)
                    return (int32_t)((start << 5) | f);
                best = (int32_t)((start << 5) | f);
                best_len = len;
                break;
            }
        }
        at = hit + 1;
    }
    return best;
}

typedef struct {
    Py_buffer view;
    int held;
} Buf;

static void release(Buf *b, int n)
{
    for (int i = 0; i < n; i++)
        if (b[i].held)
            PyBuffer_Release(&b[i].view);
}

static int get(PyObject *obj, Buf *b, Py_ssize_t itemsize, const char *what)
{
    if (PyObject_GetBuffer(obj, &b->view, PyBUF_C_CONTIGUOUS) < 0)
        return -1;
    b->held = 1;
    if (itemsize > 1 && b->view.len % itemsize != 0) {
        PyErr_Format(PyExc_TypeError, "%s: byte length %zd is not a multiple of %zd", what, b->view.len, itemsize);
        return -1;
    }
    return 0;
}

/* offsets must start at 0 and grow within data: checked before any byte is read */
static int check_offsets(const int64_t *off, Py_ssize_t n, Py_ssize_t data_len)
{
    if (off[0] != 0) {
        PyErr_SetString(PyExc_ValueError, "offsets must start at 0");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (off[i + 1] < off[i] || off[i + 1] > data_len) {
            PyErr_Format(PyExc_ValueError, "offsets[%zd] out of order or past the data", i + 1);
            return -1;
        }
    return 0;
}

static PyObject *strip(PyObject *self, PyObject *args)
{
    PyObject *off_obj, *data_obj, *ts_obj;
    if (!PyArg_ParseTuple(args, "OOO", &off_obj, &data_obj, &ts_obj))
        return NULL;
    Buf b[3];
    memset(b, 0, sizeof b);
    PyObject *out_off = NULL, *out_data = NULL, *out_codes = NULL, *result = NULL;
    if (get(off_obj, &b[0], 8, "offsets") < 0 || get(data_obj, &b[1], 1, "data") < 0 || get(ts_obj, &b[2], 8, "ts") < 0)
        goto done;
    Py_ssize_t n = b[2].view.len / 8;
    if (b[0].view.len / 8 != n + 1) {
        PyErr_SetString(PyExc_ValueError, "offsets must have one more entry than ts");
        goto done;
    }
    const int64_t *off = b[0].view.buf, *ts = b[2].view.buf;
    const char *data = b[1].view.buf;
    if (check_offsets(off, n, b[1].view.len) < 0)
        goto done;
    out_off = PyBytes_FromStringAndSize(NULL, (n + 1) * 8);
    out_data = PyBytes_FromStringAndSize(NULL, off[n]);
    out_codes = PyBytes_FromStringAndSize(NULL, n * 4);
    if (out_off == NULL || out_data == NULL || out_codes == NULL)
        goto done;
    int64_t *o = (int64_t *)PyBytes_AS_STRING(out_off);
    char *d = PyBytes_AS_STRING(out_data);
    int32_t *codes = (int32_t *)PyBytes_AS_STRING(out_codes);
    int64_t w = 0;
    Py_BEGIN_ALLOW_THREADS
    o[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *line = data + off[i];
        int64_t len = off[i + 1] - off[i];
        Civil c = civil(ts[i]);
        int32_t code = find(line, len, &c);
        codes[i] = code;
        if (code) {
            int64_t start = code >> 5, cut = format_len(code & 31);
            memcpy(d + w, line, (size_t)start);
            memcpy(d + w + start, line + start + cut, (size_t)(len - start - cut));
            w += len - cut;
        } else {
            memcpy(d + w, line, (size_t)len);
            w += len;
        }
        o[i + 1] = w;
    }
    Py_END_ALLOW_THREADS
    if (_PyBytes_Resize(&out_data, w) < 0)
        goto done;
    result = Py_BuildValue("(OOO)", out_off, out_data, out_codes);
done:
    Py_XDECREF(out_off);
    Py_XDECREF(out_data);
    Py_XDECREF(out_codes);
    release(b, 3);
    return result;
}

static PyObject *restore(PyObject *self, PyObject *args)
{
    PyObject *off_obj, *data_obj, *ts_obj, *codes_obj;
    if (!PyArg_ParseTuple(args, "OOOO", &off_obj, &data_obj, &ts_obj, &codes_obj))
        return NULL;
    Buf b[4];
    memset(b, 0, sizeof b);
    PyObject *out_off = NULL, *out_data = NULL, *result = NULL;
    if (get(off_obj, &b[0], 8, "offsets") < 0 || get(data_obj, &b[1], 1, "data") < 0 || get(ts_obj, &b[2], 8, "ts") < 0 ||
        get(codes_obj, &b[3], 4, "codes") < 0)
        goto done;
    Py_ssize_t n = b[2].view.len / 8;
    if (b[0].view.len / 8 != n + 1 || b[3].view.len / 4 != n) {
        PyErr_SetString(PyExc_ValueError, "offsets, ts and codes disagree on the number of rows");
        goto done;
    }
    const int64_t *off = b[0].view.buf, *ts = b[2].view.buf;
    const int32_t *codes = b[3].view.buf;
    const char *data = b[1].view.buf;
    if (check_offsets(off, n, b[1].view.len) < 0)
        goto done;
    int64_t total = off[n];
    for (Py_ssize_t i = 0; i < n; i++) {
        int32_t code = codes[i];
        if (code == 0)
            continue;
        int f = code & 31;
        int64_t start = code >> 5;
        if (code < 0 || f == 0 || f >= N_FORMATS || start > off[i + 1] - off[i]) {
            PyErr_Format(PyExc_ValueError, "row %zd: code %d does not fit its line", i, (int)code);
            goto done;
        }
        total += format_len(f);
    }
    out_off = PyBytes_FromStringAndSize(NULL, (n + 1) * 8);
    out_data = PyBytes_FromStringAndSize(NULL, total);
    if (out_off == NULL || out_data == NULL)
        goto done;
    int64_t *o = (int64_t *)PyBytes_AS_STRING(out_off);
    char *d = PyBytes_AS_STRING(out_data);
    Py_BEGIN_ALLOW_THREADS
    int64_t w = 0;
    o[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *line = data + off[i];
        int64_t len = off[i + 1] - off[i];
        int32_t code = codes[i];
        if (code) {
            int64_t start = code >> 5;
            Civil c = civil(ts[i]);
            memcpy(d + w, line, (size_t)start);
            w += start;
            w += render(&c, code & 31, d + w);
            memcpy(d + w, line + start, (size_t)(len - start));
            w += len - start;
        } else {
            memcpy(d + w, line, (size_t)len);
            w += len;
        }
        o[i + 1] = w;
    }
    Py_END_ALLOW_THREADS
    result = Py_BuildValue("(OO)", out_off, out_data);
done:
    Py_XDECREF(out_off);
    Py_XDECREF(out_data);
    release(b, 4);
    return result;
}

#ifdef AVX2_DISPATCH
/* `search` 32 positions at a time (k >= 2, k <= n). */
__attribute__((target("avx2"))) static const char *search_avx2(const char *h, size_t n, const char *nd, size_t k)
{
    const __m256i first = _mm256_set1_epi8(nd[0]), last = _mm256_set1_epi8(nd[k - 1]);
    size_t i = 0;
    for (; i + k - 1 + 32 <= n; i += 32) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(h + i));
        __m256i b = _mm256_loadu_si256((const __m256i *)(h + i + k - 1));
        unsigned m = (unsigned)_mm256_movemask_epi8(_mm256_and_si256(_mm256_cmpeq_epi8(a, first), _mm256_cmpeq_epi8(b, last)));
        while (m) {
            unsigned bit = (unsigned)__builtin_ctz(m);
            if (memcmp(h + i + bit + 1, nd + 1, k - 2) == 0)
                return h + i + bit;
            m &= m - 1;
        }
    }
    return memmem(h + i, n - i, nd, k);
}
#endif

/* The first occurrence of nd[0:k] (k >= 1) in h[0:n], or NULL. With SSE2 (AVX2 where the CPU has
 * it), 16 (32) positions at a time are tested on the needle's first and last bytes and only those
 * passing both are compared whole (several GB/s on log text, where memmem and RE2 manage 1-2). */
static const char *search(const char *h, size_t n, const char *nd, size_t k)
{
    if (k > n)
        return NULL;
    if (k == 1)
        return memchr(h, (unsigned char)nd[0], n);
#ifdef AVX2_DISPATCH
    if (use_avx2)
        return search_avx2(h, n, nd, k);
#endif
    size_t i = 0;
#ifdef __SSE2__
    const __m128i first = _mm_set1_epi8(nd[0]), last = _mm_set1_epi8(nd[k - 1]);
    for (; i + k - 1 + 16 <= n; i += 16) {
        __m128i a = _mm_loadu_si128((const __m128i *)(h + i));
        __m128i b = _mm_loadu_si128((const __m128i *)(h + i + k - 1));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(a, first), _mm_cmpeq_epi8(b, last)));
        while (m) {
            unsigned bit = (unsigned)__builtin_ctz(m);
            if (memcmp(h + i + bit + 1, nd + 1, k - 2) == 0)
                return h + i + bit;
            m &= m - 1;
        }
    }
#endif
    return memmem(h + i, n - i, nd, k);
}

/* Bytes a rendering of each prefix family may hold besides digits, ':', the fraction separator and
 * (CLF and syslog) the month's name. */
static const char *const PREFIX_BYTES[] = {"-T", "- ", "/ ", "/ -", "/", " ", " ", ""};

static int has(const char *set, size_t len, char ch)
{
    return memchr(set, (unsigned char)ch, len) != NULL;
}

/* Whether a needle could overlap a rendering of format f: it holds one of the bytes one may hold,
 * counting the letters of month names only `with_months`. */
static int may_overlap(const char *nd, size_t k, int f, int with_months)
{
    const Format *fm = &FORMATS[f];
    const char *fixed = PREFIX_BYTES[fm->prefix];
    int months = with_months && (fm->prefix == P_CLF || fm->prefix == P_SYSLOG);
    for (size_t j = 0; j < k; j++) {
        char ch = nd[j];
        if ((ch >= '0' && ch <= '9') || ch == ':' || (fm->digits && ch == fm->sep) || has(fixed, strlen(fixed), ch) ||
            (months && has(MONTHS, 36, ch)))
            return 1;
    }
    return 0;
}

/* Whether byte ch may be part of a rendering of format f (any month's letters for those with one):
 * the set may_overlap tests a needle's bytes against. */
static int renderable(char ch, int f)
{
    return may_overlap(&ch, 1, f, 1);
}

/* For format f, which stored bytes just before and just after a cut rendering can neighbour an
 * occurrence of the needle that overlaps the rendering. The needle's bytes inside the rendering
 * are renderable; unless all of them are (`whole`), some lie outside, next to the cut: then
 * either the byte before the cut is nd[a-1] for a renderable nd[a], or the byte after it is nd[b]
 * for a renderable nd[b-1]. Most rows pass neither test (a timestamp sits between '[' and ' '),
 * and are not rendered at all. */
static void neighbours(const char *nd, size_t k, int f, unsigned char before[256], unsigned char after[256],
                       int *whole)
{
    memset(before, 0, 256);
    memset(after, 0, 256);
    *whole = 1;
    for (size_t j = 0; j < k; j++) {
        int r = renderable(nd[j], f);
        *whole &= r;
        if (r && j >= 1)
            before[(unsigned char)nd[j - 1]] = 1;
        if (r && j + 1 < k)
            after[(unsigned char)nd[j + 1]] = 1;
    }
}

static PyObject *contains(PyObject *self, PyObject *args)
{
    PyObject *off_obj, *data_obj, *needle_obj, *ts_obj = Py_None, *codes_obj = Py_None;
    if (!PyArg_ParseTuple(args, "OOO|OO", &off_obj, &data_obj, &needle_obj, &ts_obj, &codes_obj))
        return NULL;
    Buf b[5];
    memset(b, 0, sizeof b);
    PyObject *out = NULL;
    char *window = NULL;
    int cut = ts_obj != Py_None;
    if (cut != (codes_obj != Py_None)) {
        PyErr_SetString(PyExc_TypeError, "ts and codes go together");
        return NULL;
    }
    if (get(off_obj, &b[0], 8, "offsets") < 0 || get(data_obj, &b[1], 1, "data") < 0 ||
        get(needle_obj, &b[2], 1, "needle") < 0 ||
        (cut && (get(ts_obj, &b[3], 8, "ts") < 0 || get(codes_obj, &b[4], 4, "codes") < 0)))
        goto done;
    Py_ssize_t n = b[0].view.len / 8 - 1;
    if (n < 0 || (cut && (b[3].view.len / 8 != n || b[4].view.len / 4 != n))) {
        PyErr_SetString(PyExc_ValueError, "offsets, ts and codes disagree on the number of rows");
        goto done;
    }
    const int64_t *off = b[0].view.buf;
    const char *data = b[1].view.buf, *nd = b[2].view.buf;
    size_t k = (size_t)b[2].view.len;
    const int64_t *ts = cut ? b[3].view.buf : NULL;
    const int32_t *codes = cut ? b[4].view.buf : NULL;
    if (k == 0) {
        PyErr_SetString(PyExc_ValueError, "an empty needle");
        goto done;
    }
    if (check_offsets(off, n, b[1].view.len) < 0)
        goto done;
    int overlap[N_FORMATS] = {0}, overlap_fixed[N_FORMATS] = {0};
    for (Py_ssize_t i = 0; cut && i < n; i++) {
        int32_t code = codes[i];
        int f = code & 31;
        if (code != 0 && (code < 0 || f == 0 || f >= N_FORMATS || (code >> 5) > off[i + 1] - off[i])) {
            PyErr_Format(PyExc_ValueError, "row %zd: code %d does not fit its line", i, (int)code);
            goto done;
        }
    }
    unsigned char before[N_FORMATS][256], after[N_FORMATS][256];
    int whole[N_FORMATS] = {0};
    for (int f = 1; cut && f < N_FORMATS; f++) {
        overlap[f] = may_overlap(nd, k, f, 1);
        overlap_fixed[f] = may_overlap(nd, k, f, 0);
        if (overlap[f])
            neighbours(nd, k, f, before[f], after[f], &whole[f]);
    }
    out = PyBytes_FromStringAndSize(NULL, n);
    window = cut ? PyMem_Malloc(2 * k + 32) : NULL;
    if (out == NULL || (cut && window == NULL)) {
        if (out != NULL && window == NULL)
            PyErr_NoMemory();
        Py_CLEAR(out);
        goto done;
    }
    unsigned char *mask = (unsigned char *)PyBytes_AS_STRING(out);
    memset(mask, 0, (size_t)n);
    Py_BEGIN_ALLOW_THREADS
    /* 1. Occurrences in the stored bytes: one inside a row, not across its cut, is one of the
     * restored line; after the first, the rest of its row is skipped. */
    int64_t end = off[n], pos = off[0];
    Py_ssize_t r = 0;
    while (pos < end) {
        const char *hit = search(data + pos, (size_t)(end - pos), nd, k);
        if (hit == NULL)
            break;
        int64_t p = hit - data;
        while (off[r + 1] <= p)
            r++;
        if (p + (int64_t)k <= off[r + 1]) {
            int64_t at = cut && codes[r] ? off[r] + (codes[r] >> 5) : -1;
            if (!(p < at && p + (int64_t)k > at)) {
                mask[r] = 1;
                pos = off[r + 1];
                continue;
            }
        }
        pos = p + 1;
    }
    /* 2. Occurrences overlapping a cut rendering: searched in the rendering with up to k-1 bytes of
     * the line on each side (any other occurrence was found above). A needle that could overlap a
     * rendering only through a month's name is tried on the rows of months whose names it shares
     * a byte with (the month is looked up once per day of timestamps). */
    int64_t day_of_month = INT64_MIN;
    int month_shared = 0;
    for (Py_ssize_t i = 0; cut && i < n; i++) {
        int32_t code = codes[i];
        if (code == 0 || mask[i] || !overlap[code & 31])
            continue;
        {
            int f = code & 31;
            const unsigned char *ln = (const unsigned char *)data + off[i];
            int64_t st = code >> 5, len = off[i + 1] - off[i];
            if (!whole[f] && !((st > 0 && before[f][ln[st - 1]]) || (st < len && after[f][ln[st]])))
                continue;
        }
        if (!overlap_fixed[code & 31]) {
            const int64_t day_ns = 86400 * (int64_t)1000000000;
            int64_t day = ts[i] / day_ns - (ts[i] % day_ns < 0);
            if (day != day_of_month) {
                Civil c = civil(ts[i]);
                day_of_month = day;
                month_shared = 0;
                for (size_t j = 0; j < k; j++)
                    month_shared |= has(MONTHS + 3 * (c.month - 1), 3, nd[j]);
            }
            if (!month_shared)
                continue;
        }
        const char *line = data + off[i];
        int64_t len = off[i + 1] - off[i], start = code >> 5;
        int64_t pre = start < (int64_t)k - 1 ? start : (int64_t)k - 1;
        int64_t post = len - start < (int64_t)k - 1 ? len - start : (int64_t)k - 1;
        Civil c = civil(ts[i]);
        memcpy(window, line + start - pre, (size_t)pre);
        int w = render(&c, code & 31, window + pre);
        memcpy(window + pre + w, line + start, (size_t)post);
        if (search(window, (size_t)(pre + w + post), nd, k) != NULL)
            mask[i] = 1;
    }
    Py_END_ALLOW_THREADS
done:
    PyMem_Free(window);
    release(b, 5);
    return out;
}

static PyObject *avx2_py(PyObject *self, PyObject *args)
{
    int on;
    if (!PyArg_ParseTuple(args, "p", &on))
        return NULL;
#ifdef AVX2_DISPATCH
    int was = use_avx2;
    use_avx2 = on && __builtin_cpu_supports("avx2");
    return PyBool_FromLong(was);
#else
    return PyBool_FromLong(0);
#endif
}

static PyObject *render_py(PyObject *self, PyObject *args)
{
    long long ns;
    int f;
    if (!PyArg_ParseTuple(args, "Li", &ns, &f))
        return NULL;
    if (f <= 0 || f >= N_FORMATS) {
        PyErr_Format(PyExc_ValueError, "no format %d", f);
        return NULL;
    }
    Civil c = civil((int64_t)ns);
    char buf[32];
    int len = render(&c, f, buf);
    return PyUnicode_FromStringAndSize(buf, len);
}

static PyMethodDef methods[] = {
    {"strip", strip, METH_VARARGS, "Cut each line's rendering of its own timestamp: (offsets, data, codes)."},
    {"restore", restore, METH_VARARGS, "Put the cut renderings back: (offsets, data)."},
    {"contains", contains, METH_VARARGS, "Which restored lines hold a needle, without restoring them: a uint8 mask."},
    {"avx2", avx2_py, METH_VARARGS, "avx2(on) -> whether it was on: the AVX2 scan, where the CPU has it (for tests)."},
    {"render", render_py, METH_VARARGS, "render(ns, format_id) -> str (for tests)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_tsembed", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__tsembed(void)
{
#ifdef AVX2_DISPATCH
    __builtin_cpu_init();
    use_avx2 = __builtin_cpu_supports("avx2");
#endif
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddIntConstant(m, "N_FORMATS", N_FORMATS) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
