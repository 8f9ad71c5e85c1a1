/* stop_signals — see stop_signals.h.
 *
 * A handler, run by whichever thread the kernel picks (some threads, like
 * OpenBLAS's pool, exist before main() and cannot be made to block them),
 * writes one byte to a pipe that the main thread reads. write() and _exit()
 * are async-signal-safe. */
#include "app/stop_signals.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t serving;
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    if (!serving) _exit(128 + sig);
    stop_signal = sig;
    unsigned char byte = (unsigned char)sig;
    ssize_t ignored = write(signal_pipe[1], &byte, 1);
    (void)ignored;
}

int stop_signals_take(void) {
    signal(SIGPIPE, SIG_IGN);
    if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_CLOEXEC) != 0) return -1;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    return 0;
}

int stop_signals_wait(void) {
    serving = 1;
    unsigned char byte;
    while (read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
    return (int)stop_signal;
}
