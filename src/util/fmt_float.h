/* fmt_float — fast decimal text for the components of unit vectors.
 *
 * /encode answers with hundreds of thousands of floats a second; printf's
 * "%.9g" costs more per float than the encoder spends per token, so vectors
 * are printed by a fixed-point routine: values in (-1, 1) with 8 decimals
 * (a float32 in that range carries about 7–8 significant digits, so the text
 * loses nothing a cosine can see), trailing zeros trimmed. Anything else falls
 * back to "%.9g"; non-finite values print as 0 (JSON has no NaN). */
#ifndef RAGD_UTIL_FMT_FLOAT_H
#define RAGD_UTIL_FMT_FLOAT_H

#include <stddef.h>

#include "util/buf.h"

/* Writes at most 24 bytes to out (no NUL); returns the count. */
size_t fmt_float(char *out, float v);
/* Append "[v0,v1,…]". */
void buf_float_array(buf *b, const float *v, size_t n);

#endif
