/* test_process_metrics — the /proc collector reports this process as the
 * Python client would (open fds move with open/close, CPU time grows with
 * work, RSS and start time are plausible against independent readings), and
 * ragd's own families render with the names the dashboards query. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "obs/metrics.h"
#include "obs/process_metrics.h"
#include "obs/ragd_metrics.h"
#include "util/buf.h"

/* The value of the unlabelled sample `name` in the rendered text, or NAN. */
static double sample(const char *name) {
    buf out = BUF_INIT;
    metrics_render(&out);
    double v = NAN;
    size_t n = strlen(name);
    for (const char *line = out.data; line && *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ') {
            v = strtod(line + n + 1, NULL);
            break;
        }
        const char *nl = strchr(line, '\n');
        line = nl ? nl + 1 : NULL;
    }
    buf_free(&out);
    return v;
}

static int setup(void **state) {
    (void)state;
    metrics_reset();
    process_metrics_register("1.2.3-test");
    return 0;
}

static void test_help_and_types(void **state) {
    (void)state;
    process_metrics_register("1.2.3-test"); /* a second registration adds nothing */
    buf out = BUF_INIT;
    metrics_render(&out);
    const char *first = strstr(out.data, "# TYPE process_open_fds gauge\n");
    assert_non_null(first);
    assert_null(strstr(first + 1, "# TYPE process_open_fds gauge\n"));
    const char *expected[] = {
        "# TYPE process_virtual_memory_bytes gauge\n",
        "# TYPE process_resident_memory_bytes gauge\n",
        "# TYPE process_start_time_seconds gauge\n",
        "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
        "# TYPE process_cpu_seconds_total counter\n",
        "# TYPE process_open_fds gauge\n",
        "# TYPE process_max_fds gauge\n",
        "ragd_build_info{version=\"1.2.3-test\"} 1.0\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        if (!strstr(out.data, expected[i])) fail_msg("missing: %s", expected[i]);
    buf_free(&out);
}

static void test_open_fds_follow_open_and_close(void **state) {
    (void)state;
    double before = sample("process_open_fds");
    int fds[5];
    for (int i = 0; i < 5; i++) assert_true((fds[i] = open("/dev/null", O_RDONLY)) >= 0);
    assert_true(sample("process_open_fds") == before + 5);
    for (int i = 0; i < 5; i++) close(fds[i]);
    assert_true(sample("process_open_fds") == before);

    struct rlimit rl;
    assert_int_equal(getrlimit(RLIMIT_NOFILE, &rl), 0);
    if (rl.rlim_cur != RLIM_INFINITY) assert_true(sample("process_max_fds") == (double)rl.rlim_cur);
}

static void test_cpu_rss_and_start_time(void **state) {
    (void)state;
    double cpu_before = sample("process_cpu_seconds_total");
    /* Burn CPU until getrusage says a quarter second more has been used, then
     * the collector must say at least (nearly) as much. */
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double start = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6;
    volatile double sink = 0;
    for (;;) {
        for (int i = 0; i < 1000000; i++) sink += i * 0.5;
        getrusage(RUSAGE_SELF, &ru);
        if ((double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 - start > 0.25) break;
    }
    double cpu_after = sample("process_cpu_seconds_total");
    assert_true(cpu_after - cpu_before > 0.2);

    /* Touch 32 MiB: resident memory must grow by most of it. */
    double rss_before = sample("process_resident_memory_bytes");
    size_t big = 32u << 20;
    char *mem = malloc(big);
    assert_non_null(mem);
    memset(mem, 1, big);
    double rss_after = sample("process_resident_memory_bytes");
    assert_true(rss_after - rss_before > big * 0.75);
    assert_true(sample("process_virtual_memory_bytes") >= rss_after);
    free(mem);

    double started = sample("process_start_time_seconds");
    double now = (double)time(NULL);
    assert_true(started <= now + 1);
    assert_true(started > now - 600); /* this test process started moments ago */
}

static void test_ragd_families_render(void **state) {
    (void)state;
    ragd_metrics_encode(16, 700, 0.02);
    ragd_metrics_search("hybrid", 0.003);
    ragd_metrics_store_passages("sports", 4100);
    ragd_metrics_model_up("http://127.0.0.1:8080", 1);
    ragd_metrics_queue("encode", 3);
    ragd_metrics_llm(0.01, 0.2);
    buf out = BUF_INIT;
    metrics_render(&out);
    const char *expected[] = {
        "ragd_encode_batch_size_bucket{le=\"16.0\"} 1.0\n",
        "ragd_encode_batch_size_bucket{le=\"8.0\"} 0.0\n",
        "ragd_tokens_encoded_total 700.0\n",
        "ragd_search_seconds_count{mode=\"hybrid\"} 1.0\n",
        "ragd_store_passages{topic=\"sports\"} 4100.0\n",
        "ragd_model_up{url=\"http://127.0.0.1:8080\"} 1.0\n",
        "ragd_queue_depth{queue=\"encode\"} 3.0\n",
        "ragd_llm_first_event_seconds_sum 0.01\n",
        "ragd_llm_seconds_count 1.0\n",
        "ragd_log_lines_dropped_total 0.0\n",
    };
    for (size_t i = 0; i < sizeof expected / sizeof *expected; i++)
        if (!strstr(out.data, expected[i])) fail_msg("missing: %s\nin:\n%s", expected[i], out.data);
    buf_free(&out);
}

static int setup_ragd(void **state) {
    setup(state);
    ragd_metrics_register();
    return 0;
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_help_and_types, setup),
        cmocka_unit_test_setup(test_open_fds_follow_open_and_close, setup),
        cmocka_unit_test_setup(test_cpu_rss_and_start_time, setup),
        cmocka_unit_test_setup(test_ragd_families_render, setup_ragd),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    metrics_reset();
    return failed;
}
