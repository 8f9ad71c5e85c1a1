/* process_metrics — the process_* metrics of the Prometheus Python client
 * (process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds,
 * process_start_time_seconds), read from /proc at scrape time, plus
 * ragd_build_info{version} = 1. */
#ifndef RAGD_OBS_PROCESS_METRICS_H
#define RAGD_OBS_PROCESS_METRICS_H

/* Register the collector and the build-info gauge (once per registry). */
void process_metrics_register(const char *version);

#endif
