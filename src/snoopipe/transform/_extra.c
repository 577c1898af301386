/* The `extra` column and the typed keys' texts in one pass over the lines' bytes
   (snoopipe.transform.rules).

   extra_column(data, offsets, start, length, validity, typed_keys, text_keys=None)
       -> (values: bytes, offsets: bytes, validity: bytes, null_count: int,
           fallback: list[int])
          + with text_keys: (texts: bytes, text_offsets: bytes, text_validity: bytes,
                             list_offsets: bytes, list_validity: bytes)

   data, offsets, validity: the buffers of an Arrow `binary` (or `string`) array with
   int32 offsets; validity may be None. start, length: the array's offset and length.
   typed_keys: a tuple of bytes, the top-level keys that typed columns hold; None for the
   texts alone (with text_keys; the extra values are then empty).

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

   text_keys: a tuple of bytes, the keys whose texts the typing rules read
   (`rules.text_keys`); `a.b` is key `b` of the object at key `a` (one level). For each
   line taken on, the result holds one text per key, exactly as DuckDB's
   `json_extract_string` gives it: a string unescaped, an integer as written (`-0` as
   `0`), a float as yyjson writes the double (shortest round trip; `1e3` -> `1000.0`,
   `1e-7` stays), `true` / `false`, NULL for null or a missing key. Those texts form an
   Arrow `list<string>` array (list offsets i * len(text_keys)); a line whose texts this
   scanner cannot promise to be DuckDB's (a typed key holding an object or an array, a
   `\u0000` escape, a float that overflows or underflows, or one longer than 63
   characters) is a fallback line: NULL in both columns.

   The scan runs without the GIL. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 64
#define MAX_KEYS 1024
#define TABLE_SIZE 2048 /* power of two, > 2 * MAX_KEYS */
#define MAX_TEXT_KEYS 256
#define MAX_CHILDREN 16 /* keys read inside one nested object */

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
            if (v >= 0xDC00 && v <= 0xDFFF)
                return NULL; /* a lone low half: msgspec decides */
            if (v >= 0xD800 && v <= 0xDBFF) {
                /* a high half: only with its low half right after, else msgspec decides */
                int low = 0;
                if (end - p < 12 || p[6] != '\\' || p[7] != 'u')
                    return NULL;
                for (int i = 8; i < 12; i++) {
                    int h = hex_value(p[i]);
                    if (h < 0)
                        return NULL;
                    low = (low << 4) | h;
                }
                if (low < 0xDC00 || low > 0xDFFF)
                    return NULL;
                p += 6;
            }
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
    int index;      /* text keys only: the key's text index, -1 for none */
    int parent;     /* text keys only: the parent it is, -1 for none */
} slot;

static inline uint32_t fnv1a(const uint8_t *p, Py_ssize_t n) {
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

/* The slot of the key in the table (slots of `stamp` only; any other stamp is empty):
   the one holding it, else the empty one where it goes. */
static slot *find_slot(slot *table, uint32_t stamp, const uint8_t *key, Py_ssize_t len,
                       uint32_t hash) {
    uint32_t i = hash & (TABLE_SIZE - 1);
    for (;;) {
        slot *s = &table[i];
        if (s->stamp != stamp ||
            (s->hash == hash && s->len == len && memcmp(s->key, key, (size_t)len) == 0))
            return s;
        i = (i + 1) & (TABLE_SIZE - 1);
    }
}

/* Finds the key in the table (slots of `stamp` only); inserts it when `insert`.
   Returns 1 when it was there. */
static int key_seen(slot *table, uint32_t stamp, const uint8_t *key, Py_ssize_t len,
                    uint32_t hash, int insert) {
    slot *s = find_slot(table, stamp, key, len, hash);
    if (s->stamp == stamp)
        return 1;
    if (insert) {
        s->key = key;
        s->len = len;
        s->hash = hash;
        s->stamp = stamp;
    }
    return 0;
}

/* -- key texts ------------------------------------------------------------------------ */

enum { T_NULL = 0, T_SCALAR, T_STRING };

/* Where one key's value is in the line: [p, p + len), T_NULL when absent or null. */
typedef struct {
    const uint8_t *p;
    Py_ssize_t len;
    int kind;
} span;

/* A key whose value is an object holding text keys (`a` of `a.b`). */
typedef struct {
    int n;
    const uint8_t *key[MAX_CHILDREN];
    Py_ssize_t len[MAX_CHILDREN];
    int index[MAX_CHILDREN];
} parent;

typedef struct {
    slot table[TABLE_SIZE]; /* top-level key -> its text index and/or parent number */
    int n_keys;
    int n_parents;
    parent parents[MAX_TEXT_KEYS];
    span spans[MAX_TEXT_KEYS]; /* the line being scanned */
} text_keys;

/* The span of a scalar value [v, end_of_value); 0, or -1 for an object or an array. */
static int value_span(const uint8_t *v, const uint8_t *after, span *out) {
    if (*v == '{' || *v == '[')
        return -1; /* DuckDB re-serialises it: left to DuckDB */
    if (*v == 'n') {
        out->kind = T_NULL;
        return 0;
    }
    if (*v == '"') {
        out->p = v + 1;
        out->len = after - v - 2;
        out->kind = T_STRING;
    } else {
        out->p = v;
        out->len = after - v;
        out->kind = T_SCALAR;
    }
    return 0;
}

/* The members of a nested object [v, after) read as text keys of parent `pa`. */
static int nested_spans(const uint8_t *v, const uint8_t *after, const parent *pa,
                        span *spans) {
    const uint8_t *p = skip_ws(v + 1, after);
    if (*p == '}')
        return 0;
    for (;;) {
        /* the object was checked by skip_value: the tokens are well formed */
        const uint8_t *key = p + 1;
        int escaped = 0;
        const uint8_t *key_end = scan_string(key, after, &escaped);
        if (key_end == NULL || escaped)
            return -1; /* an escaped key: DuckDB matches it unescaped */
        Py_ssize_t key_len = key_end - 1 - key;
        p = skip_ws(skip_ws(key_end, after) + 1, after);
        const uint8_t *value = p;
        p = skip_value(value, after);
        if (p == NULL)
            return -1;
        for (int c = 0; c < pa->n; c++) {
            if (pa->len[c] == key_len && memcmp(pa->key[c], key, (size_t)key_len) == 0) {
                span *s = &spans[pa->index[c]];
                if (s->p != NULL || s->kind != T_NULL)
                    return -1; /* given twice: DuckDB takes the first */
                if (value_span(value, p, s) < 0)
                    return -1;
                if (s->kind == T_NULL)
                    s->p = value; /* seen, null */
            }
        }
        p = skip_ws(p, after);
        if (*p == '}')
            return 0;
        p = skip_ws(p + 1, after); /* the comma */
    }
}

static inline void put_utf8(uint8_t **o, uint32_t cp) {
    uint8_t *w = *o;
    if (cp < 0x80) {
        *w++ = (uint8_t)cp;
    } else if (cp < 0x800) {
        *w++ = (uint8_t)(0xC0 | (cp >> 6));
        *w++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (uint8_t)(0xE0 | (cp >> 12));
        *w++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (uint8_t)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (uint8_t)(0xF0 | (cp >> 18));
        *w++ = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (uint8_t)(0x80 | (cp & 0x3F));
    }
    *o = w;
}

static inline uint32_t hex4(const uint8_t *p) {
    return (uint32_t)(hex_value(p[0]) << 12 | hex_value(p[1]) << 8 | hex_value(p[2]) << 4 |
                      hex_value(p[3]));
}

/* A JSON string's content (checked by scan_string) unescaped at out; -1 for `\u0000`. */
static Py_ssize_t unescape(const uint8_t *p, Py_ssize_t n, uint8_t *out) {
    const uint8_t *end = p + n;
    uint8_t *o = out;
    while (p < end) {
        const uint8_t *bs = memchr(p, '\\', (size_t)(end - p));
        if (bs == NULL)
            bs = end;
        memcpy(o, p, (size_t)(bs - p));
        o += bs - p;
        p = bs;
        if (p >= end)
            break;
        uint8_t c = p[1];
        p += 2;
        switch (c) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            uint32_t cp = hex4(p);
            p += 4;
            if (cp == 0)
                return -1; /* a NUL inside a text: left to DuckDB */
            if (cp >= 0xD800 && cp <= 0xDBFF) { /* a pair (scan_string checked it) */
                cp = 0x10000 + ((cp - 0xD800) << 10) + (hex4(p + 2) - 0xDC00);
                p += 6;
            }
            put_utf8(&o, cp);
            break;
        }
        default: *o++ = c; /* '"', '\\', '/' */
        }
    }
    return o - out;
}

/* digits ([-]D.DDDe(+|-)XX, from `%.*e`) one unit of the last digit further from zero,
   in place (9.99e+02 -> 1.00e+03); 0 when it does not fit. */
static int next_up(char *digits) {
    char *e = strchr(digits, 'e');
    char *q = e - 1;
    for (; q >= digits; q--) {
        if (*q == '.')
            continue;
        if (*q == '-')
            break;
        if (*q != '9') {
            (*q)++;
            return 1;
        }
        *q = '0';
    }
    /* every digit was 9: 1.000e(x+1) */
    char *first = q + 1;
    *first = '1';
    int x = atoi(e + 1) + 1;
    return snprintf(e, 8, "e%+03d", x) < 8;
}

/* A JSON float as yyjson writes the double (DuckDB's `json_extract_string`): the
   shortest digits that read back to it, in decimal notation for exponents -6..20 (`.0`
   for a whole number), else `d.ddde-7` / `de22`. -1 for what is left to DuckDB. */
static Py_ssize_t write_float(const uint8_t *p, Py_ssize_t n, uint8_t *out) {
    char text[64], digits[40];
    if (n >= (Py_ssize_t)sizeof(text))
        return -1;
    memcpy(text, p, (size_t)n);
    text[n] = 0;
    char *rest;
    double d = strtod(text, &rest);
    if (rest != text + n || !isfinite(d))
        return -1; /* beyond a double: DuckDB keeps the text as written */
    if (d == 0) {
        for (Py_ssize_t i = 0; i < n && p[i] != 'e' && p[i] != 'E'; i++)
            if (p[i] >= '1' && p[i] <= '9')
                return -1; /* underflow to zero: left to DuckDB */
    }
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(digits, sizeof digits, "%.*e", prec, d);
        double back = strtod(digits, NULL);
        if (back == d)
            break;
        /* At a power of two the doubles below are twice as close as those above, so
           when the nearest candidate (below) does not read back, the one a unit above
           it may: the shortest digits are then that one's. */
        if (fabs(back) < fabs(d) && next_up(digits) && strtod(digits, NULL) == d)
            break;
    }
    /* digits: [-]D[.DDD]e(+|-)XX */
    uint8_t *o = out;
    const char *q = digits;
    if (*q == '-')
        *o++ = *q++;
    char sig[20];
    int k = 0;
    for (; *q != 'e'; q++)
        if (*q != '.')
            sig[k++] = *q;
    while (k > 1 && sig[k - 1] == '0')
        k--;
    int x = atoi(q + 1);
    if (x >= -6 && x <= 20) {
        if (x >= 0) {
            for (int i = 0; i <= x; i++)
                *o++ = (uint8_t)(i < k ? sig[i] : '0');
            *o++ = '.';
            if (k > x + 1) {
                memcpy(o, sig + x + 1, (size_t)(k - x - 1));
                o += k - x - 1;
            } else {
                *o++ = '0';
            }
        } else {
            *o++ = '0';
            *o++ = '.';
            for (int i = 0; i < -x - 1; i++)
                *o++ = '0';
            memcpy(o, sig, (size_t)k);
            o += k;
        }
    } else {
        *o++ = (uint8_t)sig[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, sig + 1, (size_t)(k - 1));
            o += k - 1;
        }
        o += sprintf((char *)o, "e%d", x);
    }
    return o - out;
}

/* The text of one span at out; -1 for what is left to DuckDB. */
static Py_ssize_t write_text(const span *s, uint8_t *out) {
    if (s->kind == T_STRING)
        return unescape(s->p, s->len, out);
    const uint8_t *p = s->p;
    Py_ssize_t n = s->len;
    if (*p == 't' || *p == 'f') {
        memcpy(out, p, (size_t)n);
        return n;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        if (p[i] == '.' || p[i] == 'e' || p[i] == 'E')
            return write_float(p, n, out);
    if (n == 2 && p[0] == '-' && p[1] == '0') {
        *out = '0'; /* yyjson reads `-0` as the integer 0 */
        return 1;
    }
    memcpy(out, p, (size_t)n); /* an integer of any size: DuckDB keeps it as written */
    return n;
}

/* Room a line's texts may take at most: unescaping only shortens, a float grows to at
   most 26 bytes. */
#define TEXT_ROOM(line_len, n_keys) ((line_len) + 32 * (Py_ssize_t)(n_keys))

/* Which text key (index, else -1) and parent (number, else -1) a top-level key is. */
static inline void text_key_of(text_keys *tk, const uint8_t *key, Py_ssize_t len,
                               uint32_t hash, int *index, int *parent_no) {
    const slot *s = find_slot(tk->table, 1, key, len, hash);
    *index = s->stamp == 1 ? s->index : -1;
    *parent_no = s->stamp == 1 ? s->parent : -1;
}

/* -- one line ------------------------------------------------------------------------ */

/* Writes the line's extra object at out (unless out is NULL: texts only) and, with tk,
   the spans of its text keys in tk->spans (cleared by the caller); returns the bytes
   written, -1 to fall back. */
static Py_ssize_t extra_of_line(const uint8_t *p, const uint8_t *end, uint8_t *out,
                                slot *typed, slot *seen, uint32_t stamp, text_keys *tk) {
    uint8_t *o = out;
    int members = 0, keys = 0;
    p = skip_ws(p, end);
    if (p >= end || *p != '{')
        return -1;
    p = skip_ws(p + 1, end);
    if (o != NULL)
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
            if (tk != NULL) {
                int index, parent_no;
                text_key_of(tk, key, key_len, hash, &index, &parent_no);
                if (index >= 0) {
                    if (value_span(value, p, &tk->spans[index]) < 0)
                        return -1;
                }
                /* `a.b` of an `a` that is not an object is NULL, as in DuckDB */
                if (parent_no >= 0 && *value == '{' &&
                    nested_spans(value, p, &tk->parents[parent_no], tk->spans) < 0)
                    return -1;
            }
            if (o != NULL && !key_seen(typed, 1, key, key_len, hash, 0)) {
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
    if (o == NULL)
        return 0;
    *o++ = '}';
    return o - out;
}

/* -- the module ---------------------------------------------------------------------- */

/* The text key table of a tuple of keys (`a` or `a.b`); NULL with an exception set. */
static text_keys *make_text_keys(PyObject *keys) {
    Py_ssize_t n = PyTuple_GET_SIZE(keys);
    if (n > MAX_TEXT_KEYS) {
        PyErr_SetString(PyExc_ValueError, "too many text keys");
        return NULL;
    }
    text_keys *tk = PyMem_Calloc(1, sizeof(text_keys));
    if (tk == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    tk->n_keys = (int)n;
    for (Py_ssize_t k = 0; k < n; k++) {
        PyObject *key = PyTuple_GET_ITEM(keys, k);
        if (!PyBytes_Check(key)) {
            PyErr_SetString(PyExc_TypeError, "text_keys must be a tuple of bytes");
            goto fail;
        }
        const uint8_t *kb = (const uint8_t *)PyBytes_AS_STRING(key);
        Py_ssize_t kl = PyBytes_GET_SIZE(key);
        const uint8_t *dot = memchr(kb, '.', (size_t)kl);
        Py_ssize_t top_len = dot ? dot - kb : kl;
        if (dot && memchr(dot + 1, '.', (size_t)(kl - top_len - 1))) {
            PyErr_SetString(PyExc_ValueError, "text keys nest one level at most");
            goto fail;
        }
        uint32_t hash = fnv1a(kb, top_len);
        slot *s = find_slot(tk->table, 1, kb, top_len, hash); /* the top-level key's */
        if (s->stamp != 1)
            *s = (slot){.key = kb, .len = top_len, .hash = hash, .stamp = 1, .index = -1,
                        .parent = -1};
        if (dot == NULL) {
            s->index = (int)k;
            continue;
        }
        if (s->parent < 0)
            s->parent = tk->n_parents++;
        parent *pa = &tk->parents[s->parent];
        if (pa->n == MAX_CHILDREN) {
            PyErr_SetString(PyExc_ValueError, "too many text keys in one object");
            goto fail;
        }
        pa->key[pa->n] = dot + 1;
        pa->len[pa->n] = kl - top_len - 1;
        pa->index[pa->n] = (int)k;
        pa->n++;
    }
    return tk;
fail:
    PyMem_Free(tk);
    return NULL;
}

static PyObject *extra_column(PyObject *self, PyObject *args) {
    PyObject *data_obj, *offsets_obj, *validity_obj, *typed_obj, *text_obj = Py_None;
    Py_ssize_t start, length;
    if (!PyArg_ParseTuple(args, "OOnnOO|O", &data_obj, &offsets_obj, &start, &length,
                          &validity_obj, &typed_obj, &text_obj))
        return NULL;
    int with_extra = typed_obj != Py_None;
    if ((with_extra && !PyTuple_Check(typed_obj)) || (!with_extra && text_obj == Py_None)) {
        PyErr_SetString(PyExc_TypeError,
                        "typed_keys must be a tuple of bytes (or None, with text_keys)");
        return NULL;
    }
    if (start < 0 || length < 0) {
        PyErr_SetString(PyExc_ValueError, "start and length must be >= 0");
        return NULL;
    }
    if (text_obj != Py_None && !PyTuple_Check(text_obj)) {
        PyErr_SetString(PyExc_TypeError, "text_keys must be a tuple of bytes or None");
        return NULL;
    }
    Py_buffer data = {0}, offsets = {0}, validity = {0};
    int have_validity = validity_obj != Py_None;
    PyObject *values = NULL, *out_offsets = NULL, *out_validity = NULL, *fallback = NULL;
    PyObject *texts = NULL, *text_offsets = NULL, *text_validity = NULL;
    PyObject *list_offsets = NULL, *list_validity = NULL;
    PyObject *result = NULL;
    slot *typed = NULL, *seen = NULL;
    text_keys *tk = NULL;
    uint8_t *tbuf = NULL;
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
    Py_ssize_t n_typed = with_extra ? PyTuple_GET_SIZE(typed_obj) : 0;
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
    int n_keys = 0;
    Py_ssize_t tcap = 0;
    if (text_obj != Py_None) {
        tk = make_text_keys(text_obj);
        if (tk == NULL)
            goto done;
        n_keys = tk->n_keys;
        /* grown when a line's texts may not fit (floats written longer than read) */
        tcap = (Py_ssize_t)(last - first) + TEXT_ROOM(0, n_keys) + 64;
        tbuf = PyMem_RawMalloc((size_t)tcap);
        text_offsets = PyBytes_FromStringAndSize(
            NULL, (Py_ssize_t)sizeof(int32_t) * (length * n_keys + 1));
        text_validity = PyBytes_FromStringAndSize(NULL, (length * n_keys + 7) / 8 + 1);
        list_offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int32_t) * (length + 1));
        list_validity = PyBytes_FromStringAndSize(NULL, (length + 7) / 8);
        if (tbuf == NULL) {
            PyErr_NoMemory();
            goto done;
        }
        if (text_offsets == NULL || text_validity == NULL || list_offsets == NULL ||
            list_validity == NULL)
            goto done;
        memset(PyBytes_AS_STRING(text_validity), 0, (size_t)((length * n_keys + 7) / 8 + 1));
        memset(PyBytes_AS_STRING(list_validity), 0, (size_t)((length + 7) / 8));
    }

    /* Each line's extra is at most as long as the line (only whitespace and members
       are dropped), so the data's length bounds the output. */
    values = PyBytes_FromStringAndSize(NULL, with_extra ? (Py_ssize_t)(last - first) : 0);
    out_offsets = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)sizeof(int32_t) * (length + 1));
    out_validity = PyBytes_FromStringAndSize(NULL, (length + 7) / 8);
    if (values == NULL || out_offsets == NULL || out_validity == NULL)
        goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(values);
    int32_t *oo = (int32_t *)PyBytes_AS_STRING(out_offsets);
    uint8_t *ov = (uint8_t *)PyBytes_AS_STRING(out_validity);
    memset(ov, 0, (size_t)((length + 7) / 8));
    int32_t *to = tk ? (int32_t *)PyBytes_AS_STRING(text_offsets) : NULL;
    uint8_t *tv = tk ? (uint8_t *)PyBytes_AS_STRING(text_validity) : NULL;
    int32_t *lo = tk ? (int32_t *)PyBytes_AS_STRING(list_offsets) : NULL;
    uint8_t *lv = tk ? (uint8_t *)PyBytes_AS_STRING(list_validity) : NULL;
    int too_big = 0, no_memory = 0;

    Py_BEGIN_ALLOW_THREADS
    int32_t pos = 0, child = 0;
    Py_ssize_t tpos = 0;
    uint32_t stamp = 0;
    oo[0] = 0;
    if (tk) {
        to[0] = 0;
        lo[0] = 0;
    }
    for (Py_ssize_t i = 0; i < length; i++) {
        Py_ssize_t j = start + i;
        int is_valid = !have_validity || (valid_bits[j >> 3] >> (j & 7)) & 1;
        Py_ssize_t n = -1;
        if (is_valid) {
            if (++stamp == 0) { /* wrapped: forget every earlier line's keys */
                memset(seen, 0, sizeof(slot) * TABLE_SIZE);
                stamp = 1;
            }
            if (tk)
                memset(tk->spans, 0, sizeof(span) * (size_t)n_keys);
            n = extra_of_line(bytes + off[j], bytes + off[j + 1],
                              with_extra ? out + pos : NULL, typed, seen, stamp, tk);
            Py_ssize_t room = TEXT_ROOM((Py_ssize_t)(off[j + 1] - off[j]), n_keys);
            if (n >= 0 && tk && tcap - tpos < room) {
                Py_ssize_t grown = 2 * tcap > tpos + room ? 2 * tcap : tpos + room;
                uint8_t *bigger = PyMem_RawRealloc(tbuf, (size_t)grown);
                if (bigger == NULL) {
                    no_memory = 1;
                    break;
                }
                tbuf = bigger;
                tcap = grown;
            }
            if (n >= 0 && tk) {
                /* the texts, one child per key; a text left to DuckDB makes the whole
                   line a fallback line */
                Py_ssize_t line_start = tpos;
                for (int k = 0; k < n_keys; k++) {
                    const span *sp = &tk->spans[k];
                    int32_t c = child + k;
                    if (sp->kind == T_NULL) {
                        tv[c >> 3] &= (uint8_t)~(1u << (c & 7));
                    } else {
                        Py_ssize_t w = write_text(sp, tbuf + tpos);
                        if (w < 0) {
                            n = -1;
                            break;
                        }
                        tpos += w;
                        tv[c >> 3] |= (uint8_t)(1u << (c & 7));
                    }
                    to[c + 1] = (int32_t)tpos;
                }
                if (n < 0) {
                    tpos = line_start;
                } else {
                    child += n_keys;
                    lv[i >> 3] |= (uint8_t)(1u << (i & 7));
                    if (tpos > INT32_MAX - TEXT_ROOM(0, n_keys)) {
                        too_big = 1;
                        break;
                    }
                }
            }
        }
        if (n >= 0) {
            pos += (int32_t)n;
            ov[i >> 3] |= (uint8_t)(1u << (i & 7));
        } else {
            if (is_valid)
                redo[n_redo++] = i;
            null_count++;
        }
        oo[i + 1] = pos;
        if (tk)
            lo[i + 1] = child;
    }
    Py_END_ALLOW_THREADS

    if (no_memory) {
        PyErr_NoMemory();
        goto done;
    }
    if (too_big) {
        PyErr_SetString(PyExc_ValueError, "the texts of the batch exceed 2 GiB");
        goto done;
    }
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
    if (tk == NULL) {
        result = Py_BuildValue("(OOOnO)", values, out_offsets, out_validity, null_count,
                               fallback);
    } else {
        int32_t children = ((int32_t *)PyBytes_AS_STRING(list_offsets))[length];
        texts = PyBytes_FromStringAndSize(
            (const char *)tbuf, (Py_ssize_t)((int32_t *)PyBytes_AS_STRING(text_offsets))[children]);
        if (texts == NULL)
            goto done;
        result = Py_BuildValue("(OOOnOOOOOO)", values, out_offsets, out_validity, null_count,
                               fallback, texts, text_offsets, text_validity, list_offsets,
                               list_validity);
    }

done:
    Py_XDECREF(values);
    Py_XDECREF(out_offsets);
    Py_XDECREF(out_validity);
    Py_XDECREF(fallback);
    Py_XDECREF(texts);
    Py_XDECREF(text_offsets);
    Py_XDECREF(text_validity);
    Py_XDECREF(list_offsets);
    Py_XDECREF(list_validity);
    PyMem_Free(typed);
    PyMem_Free(seen);
    PyMem_Free(tk);
    PyMem_RawFree(tbuf);
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
     "extra_column(data, offsets, start, length, validity, typed_keys, text_keys=None) -> "
     "(values, offsets, validity, null_count, fallback[, texts, text_offsets, "
     "text_validity, list_offsets, list_validity]): see the module source."},
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
