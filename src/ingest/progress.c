/* progress — see progress.h. */
#include "ingest/progress.h"

#include <stdio.h>
#include <unistd.h>

#include "obs/log.h"
#include "util/util.h"

void ingest_progress_start(ingest_progress *p, bool want_bar, long total) {
    *p = (ingest_progress){.bar = want_bar && isatty(STDERR_FILENO), .total = total};
    p->start = p->last = now_seconds();
}

static void format_duration(double s, char *out, size_t n) {
    if (s < 0 || s > 1e7) s = 0;
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(out, n, "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60);
    else snprintf(out, n, "%ld:%02ld", t / 60, t % 60);
}

void ingest_progress_update(ingest_progress *p, long done, bool final) {
    double now = now_seconds();
    if (!final && now - p->last < (p->bar ? 0.1 : 5.0)) return;
    p->last = now;
    double elapsed = now - p->start;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    double eta = rate > 0 ? (double)(p->total - done) / rate : 0;
    if (p->bar) {
        enum { WIDTH = 30 };
        int filled = p->total ? (int)((double)done * WIDTH / (double)p->total) : WIDTH;
        char bar[WIDTH + 1];
        for (int i = 0; i < WIDTH; i++) bar[i] = i < filled ? '#' : '.';
        bar[WIDTH] = '\0';
        char eta_s[32], el_s[32];
        format_duration(eta, eta_s, sizeof eta_s);
        format_duration(elapsed, el_s, sizeof el_s);
        fprintf(stderr, "\r[%s] %ld/%ld passages  %.1f/s  %s  ETA %s ", bar, done, p->total, rate,
                el_s, eta_s);
        if (final) fputc('\n', stderr);
        fflush(stderr);
    } else {
        log_fields(LOG_INFO, "ingest progress",
                   (log_field[]){LOG_INT("done", done), LOG_INT("total", p->total),
                                 LOG_DBL("per_second", rate), LOG_DBL("eta_seconds", eta)},
                   4);
    }
}

