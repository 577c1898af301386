/* The `extra` column in one pass over the lines' bytes (snoopipe.transform.rules).

   extra_column(data, offsets, start, length, validity, typed_keys)
       -> (values: bytes, offsets: bytes, validity: bytes, null_count: int,
           fallback: list[int])

   data, offsets, validity: the buffers of an Arrow `binary` (or `string`) array with
   int32 offsets; validity may be None. start, length: the array's offset and length.
   typed_keys: a tuple of bytes, the top-level keys that typed columns hold.

   For each line that is a JSON object, the result is the object without the typed keys,
   as `{"key":value,...}`: keys and values copied byte for byte, in their order, the
   whitespace between tokens dropped. That is exactly what msgspec gives for
   `Encoder().encode(Decoder(dict[str, Raw]).decode(line))` minus the typed keys, which
   the pure-Python path (`rules._extra_python`) computes.

   A line this scanner does not take on (anything not strict RFC 8259 JSON, a key with an
   escape, a key given twice, a `\uD800`-`\uDFFF` escape, nesting deeper than MAX_DEPTH,
   more than MAX_KEYS keys) is left NULL here and its index returned in `fallback`: the
   caller computes those lines with msgspec, so every decision on doubtful input (NULL
   or a value) stays msgspec's. The result buffers form an Arrow `string` array with
   int32 offsets; the lines are valid UTF-8 (the reader checks), and the output is cut
   at token boundaries, so it is too.

   The scan runs without the GIL. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_KEYS 1024
#define TABLE_SIZE 2048 /* power of two, > 2 * MAX_KEYS */

/* Bytes a JSON string may hold as they are: not '"', '\\' or a control character. */
static uint8_t PLAIN[256];

static void init_tables(void) {
    for (int c = 0; c < 256; c++)
        PLAIN[c] = (c >= 0x20 && c != '"' && c != '\\');
}

static inline const uint8_t *skip_ws(const uint8_t *p, const uint8_t *end) {
    while (p < end && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

static inline int hex_value(uint8_t c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* p: just after an opening quote. Returns just after the closing quote, NULL to fall
   back. *escaped is set when the string holds an escape. */
static const uint8_t *scan_string(const uint8_t *p, const uint8_t *end, int *escaped) {
    for (;;) {
        while (p < end && PLAIN[*p])
            p++;
        if (p >= end)
            return NULL;
        if (*p == '"')
            return p + 1;
        if (*p != '\\')
            return NULL; /* a raw control character */
        *escaped = 1;
        if (end - p < 2)
            return NULL;
        switch (p[1]) {
        case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
            p += 2;
            break;
        case 'u': {
            if (end - p < 6)
                return NULL;
            int v = 0;
            for (int i = 2; i < 6; i++) {
                int h = hex_value(p[i]);
                if (h < 0)
                    return NULL;
                v = (v << 4) | h;
            }
            if (v >= 0xD800 && v <= 0xDFFF)
                return NULL; /* surrogates: msgspec decides on pairs and lone halves */
            p += 6;
            break;
        }
        default:
            return NULL;
        }
    }
}

/* [0-9]+ : returns just after the digits, NULL when there is none. */
static inline const uint8_t *scan_digits(const uint8_t *p, const uint8_t *end) {
    const uint8_t *start = p;
    while (p < end && *p >= '0' && *p <= '9')
        p++;
    return p == start ? NULL : p;
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? ; the byte after it is checked by the
   caller (a delimiter must follow). */
static const uint8_t *scan_number(const uint8_t *p, const uint8_t *end) {
    if (p < end && *p == '-')
        p++;
    if (p >= end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return NULL;
    }
    if (p < end && *p == '.') {
        p = scan_digits(p + 1, end);
        if (p == NULL)
            return NULL;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        p = scan_digits(p, end);
    }
    return p;
}

/* "key" : — p at the opening quote of a key inside a nested object. Returns the start of
   the value (whitespace skipped), NULL to fall back. */
static const uint8_t *scan_member_key(const uint8_t *p, const uint8_t *end) {
    int escaped = 0;
    if (p >= end || *p != '"')
        return NULL;
    p = scan_string(p + 1, end, &escaped);
    if (p == NULL)
        return NULL;
    p = skip_ws(p, end);
    if (p >= end || *p != ':')
        return NULL;
    return skip_ws(p + 1, end);
}

/* One JSON value starting at p (no leading whitespace). Returns just after it, NULL to
   fall back. Iterative: an explicit stack of open containers. */
static const uint8_t *skip_value(const uint8_t *p, const uint8_t *end) {
    uint8_t stack[MAX_DEPTH];
    int depth = 0;
    for (;;) {
        /* a value at p */
        if (p >= end)
            return NULL;
        uint8_t c = *p;
        if (c == '"') {
            int escaped = 0;
            p = scan_string(p + 1, end, &escaped);
            if (p == NULL)
                return NULL;
        } else if (c == '{' || c == '[') {
            uint8_t close = c == '{' ? '}' : ']';
            p = skip_ws(p + 1, end);
            if (p < end && *p == close) {
                p++;
            } else {
                if (depth == MAX_DEPTH)
                    return NULL;
                stack[depth++] = close;
                if (close == '}') {
                    p = scan_member_key(p, end);
                    if (p == NULL)
                        return NULL;
                }
                continue;
            }
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            p = scan_number(p, end);
            if (p == NULL)
                return NULL;
        } else if (c == 't' && end - p >= 4 && memcmp(p, "true", 4) == 0) {
            p += 4;
        } else if (c == 'f' && end - p >= 5 && memcmp(p, "false", 5) == 0) {
            p += 5;
        } else if (c == 'n' && end - p >= 4 && memcmp(p, "null", 4) == 0) {
            p += 4;
        } else {
            return NULL;
        }
        /* after a value: close containers until one continues with a comma */
        for (;;) {
            if (depth == 0)
                return p;
            p = skip_ws(p, end);
            if (p >= end)
                return NULL;
            uint8_t close = stack[depth - 1];
            if (*p == close) {
                p++;
                depth--;
                continue;
            }
            if (*p != ',')
                return NULL;
            p = skip_ws(p + 1, end);
            if (close == '}') {
                p = scan_member_key(p, end);
                if (p == NULL)
                    return NULL;
            }
            break;
        }
    }
}

/* -- key sets ------------------------------------------------------------------------ */

typedef struct {
    const uint8_t *key;
    Py_ssize_t len;
    uint32_t hash;
    uint32_t stamp; /* the line it belongs to; 0 = empty */
} slot;

static inline uint32_t fnv1a(const uint8_t *p, Py_ssize_t n) {
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* Finds the key in the table (slots of `stamp` only); inserts it when `insert`.
   Returns 1 when it was there. */
static int key_seen(slot *table, uint32_t stamp, const uint8_t *key, Py_ssize_t len,
                    uint32_t hash, int insert) {
    uint32_t i = hash & (TABLE_SIZE - 1);
    for (;;) {
        slot *s = &table[i];
        if (s->stamp != stamp) {
            if (insert) {
                s->key = key;
                s->len = len;
                s->hash = hash;
                s->stamp = stamp;
            }
            return 0;
        }
        if (s->hash == hash && s->len == len && memcmp(s->key, key, (size_t)len) == 0)
            return 1;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
}

/* -- one line ------------------------------------------------------------------------ */

/* Writes the line's extra object at out; returns the bytes written, -1 to fall back. */
static Py_ssize_t extra_of_line(const uint8_t *p, const uint8_t *end, uint8_t *out,
                                slot *typed, slot *seen, uint32_t stamp) {
    uint8_t *o = out;
    int members = 0, keys = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    *o++ = '{';
    if (p < end && *p == '}') {
        p++;
    } else {
        for (;;) {
            if (p >= end || *p != '"')
                return -1;
            const uint8_t *key = p + 1;
            int escaped = 0;
            const uint8_t *after = scan_string(key, end, &escaped);
            if (after == NULL || escaped)
                return -1; /* an escaped key is decoded and re-encoded by msgspec */
            Py_ssize_t key_len = after - 1 - key;
            p = skip_ws(after, end);
            if (p >= end || *p != ':')
                return -1;
            const uint8_t *value = skip_ws(p + 1, end);
            p = skip_value(value, end);
            if (p == NULL)
                return -1;
            if (++keys > MAX_KEYS)
                return -1;
            uint32_t hash = fnv1a(key, key_len);
            if (key_seen(seen, stamp, key, key_len, hash, 1))
                return -1; /* a key given twice: msgspec keeps the last value */
            if (!key_seen(typed, 1, key, key_len, hash, 0)) {
                if (members++)
                    *o++ = ',';
                /* "key":value, the key with its quotes */
                memcpy(o, key - 1, (size_t)key_len + 2);
                o += key_len + 2;
                *o++ = ':';
                memcpy(o, value, (size_t)(p - value));
                o += p - value;
            }
            p = skip_ws(p, end);
            if (p >= end)
                return -1;
            if (*p == '}') {
                p++;
                break;
            }
            if (*p != ',')
                return -1;
            p = skip_ws(p + 1, end);
        }
    }
    if (skip_ws(p, end) != end)
        return -1; /* trailing characters */
    *o++ = '}';
    return o - out;
}

/* -- the module ---------------------------------------------------------------------- */

static PyObject *extra_column(PyObject *self, PyObject *args) {
    PyObject *data_obj, *offsets_obj, *validity_obj, *typed_obj;
    Py_ssize_t start, length;
    if (!PyArg_ParseTuple(args, "OOnnOO!", &data_obj, &offsets_obj, &start, &length,
                          &validity_obj, &PyTuple_Type, &typed_obj))
        return NULL;
    if (start < 0 || length < 0) {
        PyErr_SetString(PyExc_ValueError, "start and length must be >= 0");
        return NULL;
    }
    Py_buffer data = {0}, offsets = {0}, validity = {0};
    int have_validity = validity_obj != Py_None;
    PyObject *values = NULL, *out_offsets = NULL, *out_validity = NULL, *fallback = NULL;
    PyObject *result = NULL;
    slot *typed = NULL, *seen = NULL;
    Py_ssize_t *redo = NULL, n_redo = 0, null_count = 0;

    if (PyObject_GetBuffer(offsets_obj, &offsets, PyBUF_SIMPLE) < 0)
        goto done;
    if (PyObject_GetBuffer(data_obj, &data, PyBUF_SIMPLE) < 0)
        goto done;
    if (have_validity && PyObject_GetBuffer(validity_obj, &validity, PyBUF_SIMPLE) < 0)
        goto done;
    if (offsets.len < (Py_ssize_t)sizeof(int32_t) * (start + length + 1) ||
        (have_validity && validity.len * 8 < start + length)) {
        PyErr_SetString(PyExc_ValueError, "buffers shorter than start + length");
        goto done;
    }
    const int32_t *off = (const int32_t *)offsets.buf;
    const uint8_t *bytes = (const uint8_t *)data.buf;
    const uint8_t *valid_bits = (const uint8_t *)validity.buf;
    int32_t first = off[start], last = off[start + length];
    if (first < 0 || last < first || last > data.len) {
        PyErr_SetString(PyExc_ValueError, "offsets outside the data buffer");
        goto done;
    }
    for (Py_ssize_t i = start; i < start + length; i++) {
        if (off[i + 1] < off[i]) {
            PyErr_SetString(PyExc_ValueError, "offsets are not increasing");
            goto done;
        }
    }

    /* The typed keys, in a table of their own (stamp 1). */
    typed = PyMem_Calloc(TABLE_SIZE, sizeof(slot));
    seen = PyMem_Calloc(TABLE_SIZE, sizeof(slot));
    redo = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(length ? length : 1));
    if (typed == NULL || seen == NULL || redo == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t n_typed = PyTuple_GET_SIZE(typed_obj);
    if (n_typed > MAX_KEYS) {
        PyErr_SetString(PyExc_ValueError, "too many typed keys");
        goto done;
    }
    for (Py_ssize_t k = 0; k < n_typed; k++) {
        PyObject *key = PyTuple_GET_ITEM(typed_obj, k);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "typed_keys must be a tuple of bytes");
            goto done;
        }
        const uint8_t *kb = (const uint8_t *)PyBytes_AS_STRING(key);
        Py_ssize_t kl = PyBytes_GET_SIZE(key);
        key_seen(typed, 1, kb, kl, fnv1a(kb, kl), 1);
    }

    /* Each line's extra is at most as long as the line (only whitespace and members
       are dropped), so the data's length bounds the output. */
    values = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(last - first));
    out_offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int32_t) * (length + 1));
    out_validity = PyBytes_FromStringAndSize(NULL, (length + 7) / 8);
    if (values == NULL || out_offsets == NULL || out_validity == NULL)
        goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(values);
    int32_t *oo = (int32_t *)PyBytes_AS_STRING(out_offsets);
    uint8_t *ov = (uint8_t *)PyBytes_AS_STRING(out_validity);
    memset(ov, 0, (size_t)((length + 7) / 8));

    Py_BEGIN_ALLOW_THREADS
    int32_t pos = 0;
    uint32_t stamp = 0;
    oo[0] = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_ssize_t j = start + i;
        int is_valid = !have_validity || (valid_bits[j >> 3] >> (j & 7)) & 1;
        if (is_valid) {
            if (++stamp == 0) { /* wrapped: forget every earlier line's keys */
                memset(seen, 0, sizeof(slot) * TABLE_SIZE);
                stamp = 1;
            }
            Py_ssize_t n = extra_of_line(bytes + off[j], bytes + off[j + 1], out + pos,
                                         typed, seen, stamp);
            if (n >= 0) {
                pos += (int32_t)n;
                ov[i >> 3] |= (uint8_t)(1u << (i & 7));
            } else {
                redo[n_redo++] = i;
                null_count++;
            }
        } else {
            null_count++;
        }
        oo[i + 1] = pos;
    }
    Py_END_ALLOW_THREADS

    if (_PyBytes_Resize(&values, (Py_ssize_t)oo[length]) < 0)
        goto done;
    fallback = PyList_New(n_redo);
    if (fallback == NULL)
        goto done;
    for (Py_ssize_t r = 0; r < n_redo; r++) {
        PyObject *index = PyLong_FromSsize_t(redo[r]);
        if (index == NULL)
            goto done;
        PyList_SET_ITEM(fallback, r, index);
    }
    result = Py_BuildValue("(OOOnO)", values, out_offsets, out_validity, null_count,
                           fallback);

done:
    Py_XDECREF(values);
    Py_XDECREF(out_offsets);
    Py_XDECREF(out_validity);
    Py_XDECREF(fallback);
    PyMem_Free(typed);
    PyMem_Free(seen);
    PyMem_Free(redo);
    if (offsets.obj)
        PyBuffer_Release(&offsets);
    if (data.obj)
        PyBuffer_Release(&data);
    if (validity.obj)
        PyBuffer_Release(&validity);
    return result;
}

static PyMethodDef methods[] = {
    {"extra_column", extra_column, METH_VARARGS,
     "extra_column(data, offsets, start, length, validity, typed_keys) -> "
     "(values, offsets, validity, null_count, fallback): see the module source."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "snoopipe.transform._extra",
    "The `extra` column in one pass over the lines' bytes (see rules.extra_fields).", -1,
    methods,
};

PyMODINIT_FUNC PyInit__extra(void) {
    init_tables();
    return PyModule_Create(&module);
}
