/* fmt_float — see fmt_float.h. */
#include "util/fmt_float.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>

size_t fmt_float(char *out, float v) {
    if (!isfinite(v)) {
        out[0] = '0';
        return 1;
    }
    if (!(v > -1.0f && v < 1.0f)) return (size_t)snprintf(out, 24, "%.9g", (double)v);
    int64_t scaled = llround((double)v * 1e8);
    size_t n = 0;
    if (scaled < 0) {
        out[n++] = '-';
        scaled = -scaled;
    }
    if (scaled >= 100000000) { /* rounded up to ±1 */
        out[n++] = '1';
        return n;
    }
    out[n++] = '0';
    if (scaled == 0) return n;
    out[n++] = '.';
    char digits[8];
    for (int i = 7; i >= 0; i--) {
        digits[i] = (char)('0' + scaled % 10);
        scaled /= 10;
    }
    int last = 7;
    while (last > 0 && digits[last] == '0') last--;
    for (int i = 0; i <= last; i++) out[n++] = digits[i];
    return n;
}

void buf_float_array(buf *b, const float *v, size_t n) {
    buf_reserve(b, n * 12 + 2);
    b->data[b->len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i) b->data[b->len++] = ',';
        buf_reserve(b, 24);
        b->len += fmt_float(b->data + b->len, v[i]);
    }
    b->data[b->len++] = ']';
    b->data[b->len] = '\0';
}
