/* news_date — the corpus's M/D/YYYY dates as ISO 8601 (YYYY-MM-DD).
 *
 * Month and day may have one or two digits; the year has four. A date that
 * does not exist (2/30/2016, 13/1/2016, 2/29/2015) is refused with a reason,
 * never rolled over. */
#ifndef RAGD_INGEST_NEWS_DATE_H
#define RAGD_INGEST_NEWS_DATE_H

#include <stddef.h>

/* Parse n bytes; iso receives "YYYY-MM-DD" and a NUL. Returns 0, or -1 with
 * err set. Surrounding spaces are allowed. */
int news_date_parse(const char *s, size_t n, char iso[11], char *err, size_t errlen);

#endif
