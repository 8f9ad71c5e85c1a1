/* safetensors — mmap a .safetensors file and index its tensors (see
 * safetensors.h). Every number in the header is untrusted: lengths and
 * offsets are checked against the file size before anything is dereferenced,
 * and products of shapes are checked for overflow. */
#include "model/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/util.h"

/* A header larger than this is not a weights file (the real model's is 11 KB). */
#define HEADER_MAX (64u << 20)

static const struct {
    const char *name;
    st_dtype dtype;
    size_t size;
} dtypes[] = {
    {"F32", ST_F32, 4}, {"F16", ST_F16, 2}, {"BF16", ST_BF16, 2}, {"I64", ST_I64, 8},
    {"I32", ST_I32, 4}, {"I8", ST_I8, 1},   {"U8", ST_U8, 1},     {"BOOL", ST_BOOL, 1},
    {"F64", ST_F64, 8},
};

const char *st_dtype_name(st_dtype d) {
    for (size_t i = 0; i < ARRAY_LEN(dtypes); i++)
        if (dtypes[i].dtype == d) return dtypes[i].name;
    return "?";
}

static int parse_dtype(const char *s, st_dtype *d, size_t *size) {
    for (size_t i = 0; i < ARRAY_LEN(dtypes); i++)
        if (!strcmp(dtypes[i].name, s)) {
            *d = dtypes[i].dtype;
            *size = dtypes[i].size;
            return 0;
        }
    return -1;
}

void safetensors_release_pages(safetensors *st) {
    if (st && st->map) madvise(st->map, st->map_len, MADV_DONTNEED);
}

void safetensors_close(safetensors *st) {
    if (!st) return;
    for (int i = 0; i < st->ntensors; i++) free(st->tensors[i].name);
    free(st->tensors);
    if (st->map) munmap(st->map, st->map_len);
    free(st->path);
    free(st);
}

/* Fill t from one header entry; data_base/data_len describe the byte range
 * after the header. */
static int parse_tensor(const char *path, const char *name, json_t *v, const uint8_t *data_base,
                        size_t data_len, size_t data_file_offset, st_tensor *t, char *err,
                        size_t errlen) {
    json_t *jd = json_object_get(v, "dtype"), *js = json_object_get(v, "shape"),
           *jo = json_object_get(v, "data_offsets");
    if (!json_is_string(jd) || !json_is_array(js) || !json_is_array(jo) || json_array_size(jo) != 2)
        return seterr(err, errlen, "%s: tensor '%s' lacks dtype, shape or data_offsets", path,
                      name);
    size_t elsize;
    if (parse_dtype(json_string_value(jd), &t->dtype, &elsize))
        return seterr(err, errlen, "%s: tensor '%s' has unknown dtype '%s'", path, name,
                      json_string_value(jd));
    size_t nd = json_array_size(js);
    if (nd > SAFETENSORS_MAX_DIMS)
        return seterr(err, errlen, "%s: tensor '%s' has %zu dimensions (at most %d)", path, name,
                      nd, SAFETENSORS_MAX_DIMS);
    t->ndim = (int)nd;
    size_t count = 1;
    for (size_t i = 0; i < nd; i++) {
        json_t *d = json_array_get(js, i);
        if (!json_is_integer(d) || json_integer_value(d) < 0)
            return seterr(err, errlen, "%s: tensor '%s' has a bad shape", path, name);
        t->shape[i] = json_integer_value(d);
        if (__builtin_mul_overflow(count, (size_t)t->shape[i], &count))
            return seterr(err, errlen, "%s: tensor '%s' shape overflows", path, name);
    }
    json_t *jb = json_array_get(jo, 0), *je = json_array_get(jo, 1);
    if (!json_is_integer(jb) || !json_is_integer(je) || json_integer_value(jb) < 0 ||
        json_integer_value(je) < json_integer_value(jb))
        return seterr(err, errlen, "%s: tensor '%s' has bad data_offsets", path, name);
    size_t begin = (size_t)json_integer_value(jb), end = (size_t)json_integer_value(je);
    if (end > data_len)
        return seterr(err, errlen,
                      "%s: truncated: tensor '%s' ends at byte %zu of the data but the file holds "
                      "only %zu bytes of data",
                      path, name, end, data_len);
    size_t nbytes;
    if (__builtin_mul_overflow(count, elsize, &nbytes) || nbytes != end - begin)
        return seterr(err, errlen,
                      "%s: tensor '%s' occupies %zu bytes but its shape needs %zu × %zu", path,
                      name, end - begin, count, elsize);
    if ((data_file_offset + begin) % elsize)
        return seterr(err, errlen, "%s: tensor '%s' is not aligned to its %zu-byte elements", path,
                      name, elsize);
    t->data = data_base + begin;
    t->nbytes = nbytes;
    t->name = xstrdup(name);
    return 0;
}

safetensors *safetensors_open(const char *path, char *err, size_t errlen) {
    safetensors *st = xcalloc(1, sizeof *st);
    st->path = xstrdup(path);
    json_t *root = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        seterr(err, errlen, "cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        seterr(err, errlen, "%s: not a regular file", path);
        goto fail;
    }
    size_t file_len = (size_t)sb.st_size;
    if (file_len < 8) {
        seterr(err, errlen, "%s: truncated: %zu bytes, not even a header length", path, file_len);
        goto fail;
    }
    st->map = mmap(NULL, file_len, PROT_READ, MAP_PRIVATE, fd, 0);
    if (st->map == MAP_FAILED) {
        st->map = NULL;
        seterr(err, errlen, "%s: mmap failed: %s", path, strerror(errno));
        goto fail;
    }
    st->map_len = file_len;
    close(fd);
    fd = -1;

    const uint8_t *bytes = st->map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    if (hlen > HEADER_MAX || hlen > file_len - 8) {
        seterr(err, errlen,
               "%s: truncated or not safetensors: header length %llu but the file has %zu bytes",
               path, (unsigned long long)hlen, file_len);
        goto fail;
    }
    json_error_t jerr;
    root = json_loadb((const char *)bytes + 8, (size_t)hlen, 0, &jerr);
    if (!json_is_object(root)) {
        seterr(err, errlen, "%s: the header is not a JSON object (%s)", path,
               root ? "wrong type" : jerr.text);
        goto fail;
    }
    size_t data_off = 8 + (size_t)hlen;
    st->tensors = xcalloc(json_object_size(root), sizeof *st->tensors);
    const char *name;
    json_t *v;
    json_object_foreach(root, name, v) {
        if (!strcmp(name, "__metadata__")) continue;
        if (!json_is_object(v)) {
            seterr(err, errlen, "%s: header entry '%s' is not an object", path, name);
            goto fail;
        }
        if (parse_tensor(path, name, v, bytes + data_off, file_len - data_off, data_off,
                         &st->tensors[st->ntensors], err, errlen))
            goto fail;
        st->ntensors++;
    }
    json_decref(root);
    return st;
fail:
    if (fd >= 0) close(fd);
    json_decref(root);
    safetensors_close(st);
    return NULL;
}

const st_tensor *safetensors_find(const safetensors *st, const char *name) {
    for (int i = 0; i < st->ntensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

static void format_shape(char *out, size_t outlen, int ndim, const int64_t *shape) {
    size_t n = (size_t)snprintf(out, outlen, "[");
    for (int i = 0; i < ndim && n < outlen; i++)
        n += (size_t)snprintf(out + n, outlen - n, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (n < outlen) snprintf(out + n, outlen - n, "]");
}

const st_tensor *safetensors_expect(const safetensors *st, const char *name, st_dtype dtype,
                                    int ndim, const int64_t *shape, char *err, size_t errlen) {
    const st_tensor *t = safetensors_find(st, name);
    if (!t) {
        seterr(err, errlen, "%s: tensor '%s' is missing", st->path, name);
        return NULL;
    }
    if (t->dtype != dtype) {
        seterr(err, errlen, "%s: tensor '%s' is %s, expected %s", st->path, name,
               st_dtype_name(t->dtype), st_dtype_name(dtype));
        return NULL;
    }
    bool same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char got[96], want[96];
        format_shape(got, sizeof got, t->ndim, t->shape);
        format_shape(want, sizeof want, ndim, shape);
        seterr(err, errlen, "%s: tensor '%s' has shape %s, expected %s", st->path, name, got, want);
        return NULL;
    }
    return t;
}
