/* safetensors — a read-only view of a .safetensors weights file.
 *
 * The format: an 8-byte little-endian header length n, n bytes of JSON
 * ({"name": {"dtype", "shape", "data_offsets": [begin, end]}, …,
 * "__metadata__": {…}}), then the tensor data, offsets relative to the end of
 * the header. The file is mmapped read-only and tensors point straight into
 * the mapping: opening costs no copy and the page cache is shared between
 * processes serving the same model.
 *
 * safetensors_open() validates the container itself (header length, JSON,
 * dtypes, shapes, that every tensor lies inside the file, is aligned for its
 * dtype and that byte counts match shapes); whether the tensors are the ones
 * a model needs is the model's business (safetensors_expect()).
 */
#ifndef RAGD_MODEL_SAFETENSORS_H
#define RAGD_MODEL_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#define SAFETENSORS_MAX_DIMS 4

typedef enum { ST_F32, ST_F16, ST_BF16, ST_I64, ST_I32, ST_I8, ST_U8, ST_BOOL, ST_F64 } st_dtype;

typedef struct st_tensor {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const void *data; /* inside the mapping */
    size_t nbytes;
} st_tensor;

typedef struct safetensors {
    char *path;
    void *map;
    size_t map_len;
    st_tensor *tensors;
    int ntensors;
} safetensors;

/* NULL with err set ("model.safetensors: truncated: …") on any defect. */
safetensors *safetensors_open(const char *path, char *err, size_t errlen);
void safetensors_close(safetensors *st);
/* Drop the mapping's resident pages (they are read back from the page cache
 * on the next access): for callers that copied what they use. */
void safetensors_release_pages(safetensors *st);

const st_tensor *safetensors_find(const safetensors *st, const char *name);
const char *st_dtype_name(st_dtype d);

/* The tensor called name, checked to have dtype and the given shape (ndim
 * dims); NULL with a message naming the tensor and what differs. */
const st_tensor *safetensors_expect(const safetensors *st, const char *name, st_dtype dtype,
                                    int ndim, const int64_t *shape, char *err, size_t errlen);

#endif
