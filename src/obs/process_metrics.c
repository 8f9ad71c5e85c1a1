/* process_metrics — /proc readings as the Python client reports them (see
 * process_metrics.h).
 *
 * The values come from /proc/self/stat (fields after the command name, which
 * may itself contain spaces and parentheses, so parsing starts after the last
 * ')'), /proc/self/fd and /proc/self/limits, read when Prometheus scrapes:
 * nothing is kept up to date between scrapes. The start time is fixed, so it
 * is computed once, from the process's start tick and the boot time in
 * /proc/stat. Help texts and order are the Python client's.
 */
#include "obs/process_metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "obs/metrics.h"

typedef struct proc_stat {
    double utime_ticks, stime_ticks, start_ticks, vsize_bytes, rss_pages;
} proc_stat;

static int read_proc_stat(proc_stat *st) {
    char text[2048];
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f) return -1;
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    char *p = strrchr(text, ')');
    if (!p) return -1;
    /* Fields from 3 (state) on; field k is at index k - 3. */
    double field[24] = {0};
    char *save = NULL;
    int i = 0;
    for (char *tok = strtok_r(p + 1, " ", &save); tok && i < 24; tok = strtok_r(NULL, " ", &save))
        field[i++] = strtod(tok, NULL);
    if (i < 22) return -1;
    st->utime_ticks = field[14 - 3];
    st->stime_ticks = field[15 - 3];
    st->start_ticks = field[22 - 3];
    st->vsize_bytes = field[23 - 3];
    st->rss_pages = field[24 - 3];
    return 0;
}

static double boot_time_seconds(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return 0;
    char line[256];
    double btime = 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "btime ", 6) == 0) btime = strtod(line + 6, NULL);
    fclose(f);
    return btime;
}

static double count_open_fds(void) {
    DIR *d = opendir("/proc/self/fd");
    if (!d) return -1;
    double n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') n++;
    closedir(d);
    return n - 1; /* the directory stream's own descriptor */
}

static double max_open_fds(void) {
    FILE *f = fopen("/proc/self/limits", "r");
    if (!f) return -1;
    char line[256];
    double v = -1;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "Max open files", 14) == 0) {
            char *p = line + 14;
            while (*p == ' ') p++;
            v = strncmp(p, "unlimited", 9) == 0 ? -1 : strtod(p, NULL);
        }
    }
    fclose(f);
    return v;
}

static void write_one(buf *out, const char *name, const char *type, const char *help, double v) {
    metrics_write_header(out, name, type, help);
    buf_puts(out, name);
    buf_putc(out, ' ');
    metrics_write_value(out, v);
    buf_putc(out, '\n');
}

static double start_time_seconds = -1;

static void collect_process(buf *out, void *ctx) {
    (void)ctx;
    proc_stat st;
    if (read_proc_stat(&st) != 0) return; /* not Linux: export nothing rather than zeros */
    double ticks = (double)sysconf(_SC_CLK_TCK);
    double page = (double)sysconf(_SC_PAGESIZE);
    write_one(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
              st.vsize_bytes);
    write_one(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
              st.rss_pages * page);
    if (start_time_seconds >= 0)
        write_one(out, "process_start_time_seconds", "gauge",
                  "Start time of the process since unix epoch in seconds.", start_time_seconds);
    write_one(out, "process_cpu_seconds_total", "counter",
              "Total user and system CPU time spent in seconds.",
              (st.utime_ticks + st.stime_ticks) / ticks);
    double open_fds = count_open_fds();
    if (open_fds >= 0)
        write_one(out, "process_open_fds", "gauge", "Number of open file descriptors.", open_fds);
    double max_fds = max_open_fds();
    if (max_fds >= 0)
        write_one(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                  max_fds);
}

void process_metrics_register(const char *version) {
    proc_stat st;
    double btime = boot_time_seconds();
    if (read_proc_stat(&st) == 0 && btime > 0)
        start_time_seconds = btime + st.start_ticks / (double)sysconf(_SC_CLK_TCK);
    metrics_add_collector(collect_process, NULL);
    static const char *const labels[] = {"version"};
    metric *info = metric_gauge("ragd_build_info", "ragd build information (always 1).", 1, labels);
    metric_set(metric_with(info, (const char *[]){version ? version : "unknown"}), 1);
}
