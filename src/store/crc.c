/* crc — CRC32 (zlib's, table-driven and braided: gigabytes per second) over
 * buffers that may exceed 4 GiB, for store and log checksums. */
#include <zlib.h>

#include "store/format.h"

uint32_t store_crc32_update(uint32_t crc, const void *data, size_t len) {
    return (uint32_t)crc32_z(crc, data, len);
}

uint32_t store_crc32(const void *data, size_t len) {
    return store_crc32_update((uint32_t)crc32_z(0, NULL, 0), data, len);
}
