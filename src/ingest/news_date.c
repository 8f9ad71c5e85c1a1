/* news_date — see news_date.h. */
#include "ingest/news_date.h"

#include <stdbool.h>
#include <string.h>

#include "util/util.h"

static bool leap_year(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && leap_year(y) ? 29 : days[m - 1];
}

/* Read 1..maxdigits digits at s[*i]. */
static int read_number(const char *s, size_t n, size_t *i, int mindigits, int maxdigits, int *out) {
    int v = 0, k = 0;
    while (*i < n && s[*i] >= '0' && s[*i] <= '9' && k < maxdigits) {
        v = v * 10 + (s[*i] - '0');
        (*i)++, k++;
    }
    if (k < mindigits || (*i < n && s[*i] >= '0' && s[*i] <= '9')) return -1;
    *out = v;
    return 0;
}

int news_date_parse(const char *s, size_t n, char iso[11], char *err, size_t errlen) {
    size_t i = 0;
    while (i < n && s[i] == ' ') i++;
    while (n > i && s[n - 1] == ' ') n--;
    int m, d, y;
    if (read_number(s, n, &i, 1, 2, &m) < 0 || i >= n || s[i++] != '/' ||
        read_number(s, n, &i, 1, 2, &d) < 0 || i >= n || s[i++] != '/' ||
        read_number(s, n, &i, 4, 4, &y) < 0 || i != n)
        return seterr(err, errlen, "date '%.*s' is not M/D/YYYY", (int)(n > 40 ? 40 : n), s);
    if (m < 1 || m > 12)
        return seterr(err, errlen, "date '%.*s' has month %d", (int)n, s, m);
    if (d < 1 || d > days_in_month(y, m))
        return seterr(err, errlen, "date '%.*s' does not exist (month %d of %d has %d days)",
                      (int)n, s, m, y, days_in_month(y, m));
    const int digits[8] = {y / 1000, y / 100 % 10, y / 10 % 10, y % 10, m / 10, m % 10, d / 10, d % 10};
    static const int at[8] = {0, 1, 2, 3, 5, 6, 8, 9};
    memcpy(iso, "0000-00-00", 11);
    for (int k = 0; k < 8; k++) iso[at[k]] = (char)('0' + digits[k]);
    return 0;
}
