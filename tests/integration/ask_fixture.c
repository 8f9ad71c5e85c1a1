/* ask_fixture — see ask_fixture.h. */
#include "ask_fixture.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/util.h"

const ask_article ask_corpus[] = {
    {"inflation", "business", "state bank raises policy rate to curb inflation", "1/5/2016", "2016-01-05",
     "KARACHI: The State Bank raised its policy rate by fifty basis points on Monday, saying inflation "
     "had climbed for a fourth month. The governor told reporters the bank would watch prices closely."},
    {"crude", "business", "crude prices slide on rising stockpiles", "1/12/2016", "2016-01-12",
     "LONDON: Crude prices fell for a third session as stockpiles in storage tanks kept rising and "
     "producers showed no sign of cutting output. Traders expect the glut to last into the summer."},
    {"textile", "business", "textile exporters seek relief package", "2/3/2016", "2016-02-03",
     "FAISALABAD: Textile exporters asked the government for a relief package, saying the cost of "
     "power and gas had made their mills lose orders to regional rivals."},
    {"budget", "business", "government unveils budget with export incentives", "6/4/2016", "2016-06-04",
     "ISLAMABAD: The finance minister unveiled the budget with lower duties for exporters and more money "
     "for roads.\r\n\r\nThe opposition called the government\x92s revenue targets unrealistic."},
    {"fares", "business", "transporters refuse to cut fares", "1/1/2015", "2015-01-01",
     "KARACHI: Transporters refused to cut fares despite the fall in petroleum prices, saying most of "
     "their vehicles run on compressed natural gas whose price had not changed."},
    {"bullion", "business", "bullion climbs as dollar weakens", "3/9/2016", "2016-03-09",
     "Bullion dealers reported brisk buying as the dollar weakened against major currencies and "
     "investors looked for a safe place to park their money."},
    {"rupee", "business", "rupee steady in interbank market", "4/18/2016", "2016-04-18",
     "The rupee held steady in the interbank market on Tuesday as the central bank sold dollars to "
     "meet demand from importers of oil and machinery."},
    {"telecom", "business", "telecom operators bid for spectrum", "5/23/2016", "2016-05-23",
     "Four telecom operators submitted bids for next generation spectrum, and the regulator said the "
     "auction would raise more than a billion dollars for the treasury."},
    {"wheat", "business", "wheat procurement target raised", "3/27/2017", "2017-03-27",
     "LAHORE: The provincial food department raised its wheat procurement target after a bumper crop, "
     "and promised growers payment within a week of delivery."},
    {"automobile", "business", "automobile sales jump on new models", "2/14/2017", "2017-02-14",
     "Automobile sales jumped by a fifth in January as assemblers launched new models and banks "
     "offered cheaper car financing to salaried buyers."},
    {"cricket", "sports", "captain hits century as team wins test", "1/8/2016", "2016-01-08",
     "The captain struck a brilliant century and the fast bowlers took seven wickets as the team won "
     "the cricket test by an innings on the fourth day."},
    {"hockey", "sports", "hockey team qualifies for olympics", "3/20/2016", "2016-03-20",
     "The national hockey team qualified for the Olympic tournament after beating their old rivals "
     "three goals to two in a thrilling final."},
    {"tennis", "sports", "teenager stuns champion in tennis final", "9/11/2016", "2016-09-11",
     "A teenage qualifier stunned the defending champion in straight sets to win the tennis final, "
     "the youngest winner of the tournament in two decades."},
    {"football", "sports", "late goal settles football derby", "10/2/2016", "2016-10-02",
     "A header in the last minute settled the football derby, sending the home supporters into wild "
     "celebrations and lifting their club to the top of the league."},
    {"squash", "sports", "squash legend returns as coach", "11/15/2016", "2016-11-15",
     "The former world squash champion returned to the national federation as head coach and promised "
     "to rebuild the game from the junior level."},
    {"boxing", "sports", "boxer wins title on points", "12/3/2016", "2016-12-03",
     "The boxing crowd rose to its feet as the challenger won the title on points after twelve hard "
     "rounds against the favourite."},
    {"marathon", "sports", "thousands run city marathon", "2/26/2017", "2017-02-26",
     "Thousands of runners took part in the city marathon on Sunday; a policeman from the hill country "
     "won the men's race in a record time."},
    {"snooker", "sports", "snooker player reaches world final", "4/30/2016", "2016-04-30",
     "The snooker player reached the final of the world championship after a century break in the "
     "deciding frame of a tense semi-final."},
    {"polo", "sports", "army team lifts polo cup", "3/6/2016", "2016-03-06",
     "The army team lifted the polo cup after a hard-fought final played before a large crowd at the "
     "fortress stadium."},
    {"wrestling", "sports", "wrestlers win gold at regional games", "2/10/2016", "2016-02-10",
     "Two wrestlers won gold at the regional games, and the wrestling federation announced cash prizes "
     "for every medal winner."},
};
const int ask_corpus_len = (int)(sizeof ask_corpus / sizeof ask_corpus[0]);

/* A CSV field: quoted, with quotes doubled. */
static void csv_field(buf *b, const char *s) {
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static int write_corpus(const char *path) {
    buf b = BUF_INIT;
    buf_puts(&b, "Article,Date,Heading,NewsType\r\n");
    for (int i = 0; i < ask_corpus_len; i++) {
        const ask_article *a = &ask_corpus[i];
        csv_field(&b, a->text);
        buf_printf(&b, ",%s,%s,%s\r\n", a->date_csv, a->heading, a->topic);
    }
    FILE *f = fopen(path, "wb");
    int rc = f && fwrite(b.data, 1, b.len, f) == b.len ? 0 : -1;
    if (f && fclose(f)) rc = -1;
    buf_free(&b);
    if (rc) fprintf(stderr, "ask_fixture: cannot write %s\n", path);
    return rc;
}

bool ask_fixture_on_pg(void) {
    const char *s = getenv("RAGD_TEST_STORE");
    return s && !strcmp(s, "postgres");
}

/* The temporary folder, the CSV, and on PostgreSQL a fresh cluster. 0 or -1. */
static int prepare(ask_fixture *f) {
    memset(f, 0, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/ragd-ask-XXXXXX");
    if (!mkdtemp(f->dir)) {
        perror("ask_fixture: mkdtemp");
        return -1;
    }
    snprintf(f->data_dir, sizeof f->data_dir, "%s/data", f->dir);
    snprintf(f->csv_path, sizeof f->csv_path, "%s/corpus.csv", f->dir);
    f->store_flag = "--data-dir";
    f->store_value = f->data_dir;
    if (ask_fixture_on_pg()) {
        if (pg_cluster_start(&f->pg) < 0) return -1;
        f->on_pg = true;
        f->store_flag = "--store-url";
        f->store_value = f->pg.url;
    }
    return write_corpus(f->csv_path);
}

/* The server answers from the store the fixture made: its /health says which. */
static int check_store_kind(const ask_fixture *f, const ragd_proc *p) {
    char url[128];
    ragd_url(p, "/health", url, sizeof url);
    http_reply r;
    if (http_call("GET", url, NULL, NULL, 0, NULL, &r) != 0) return -1;
    const char *want = f->on_pg ? "\"store\":\"postgres\"" : "\"store\":\"embedded\"";
    int rc = r.status == 200 && strstr(r.body.data, want) ? 0 : -1;
    if (rc) fprintf(stderr, "ask_fixture: /health does not say %s: %s\n", want, r.body.data);
    http_reply_free(&r);
    return rc;
}

static int start_on(ask_fixture *f, ragd_proc *p, const char *const *extra_args) {
    const char *args[48] = {"serve", f->store_flag, f->store_value, "--csv", f->csv_path};
    int n = 5;
    for (int i = 0; extra_args && extra_args[i] && n < 47; i++) args[n++] = extra_args[i];
    args[n] = NULL;
    if (ragd_start(p, args, 60) < 0) return -1;
    /* A first start listens at once and ingests meanwhile: wait for /ready. */
    char url[128];
    ragd_url(p, "/ready", url, sizeof url);
    for (;;) { /* bounded by the harness's deadline */
        http_reply r;
        if (http_call("GET", url, NULL, NULL, 0, NULL, &r) != 0) return -1;
        bool ingesting = r.status == 503 && strstr(r.body.data, "\"status\":\"ingesting\"");
        bool failed = r.status == 503 && strstr(r.body.data, "\"status\":\"failed\"");
        if (failed) fprintf(stderr, "ask_fixture: the first ingest failed: %s\n", r.body.data);
        http_reply_free(&r);
        if (!ingesting) return failed ? -1 : check_store_kind(f, p);
        usleep(50 * 1000);
    }
}

int ask_fixture_start(ask_fixture *f, const char *const *extra_args) {
    if (prepare(f) < 0) return -1;
    return start_on(f, &f->server, extra_args);
}

/* Run `ragd args…` to completion, its output in dir/name.log; exit status. */
static int run_to_end(const ask_fixture *f, const char *name, const char *const *args) {
    const char *bin = getenv("RAGD_BIN");
    if (!bin) return -1;
    char log_path[128];
    snprintf(log_path, sizeof log_path, "%s/%s.log", f->dir, name);
    const char *argv[32] = {bin};
    int n = 1;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = harness_fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int rc = harness_wait(pid);
    if (rc) {
        char *log = read_file(log_path, NULL, NULL, 0);
        fprintf(stderr, "ask_fixture: ragd %s exited %d:\n%s\n", args[0], rc, log ? log : "");
        free(log);
    }
    return rc;
}

static int start_split(ask_fixture *f) {
    const char *ingest[] = {"ingest", f->store_flag, f->store_value, "--csv", f->csv_path,
                            "--no-progress", NULL};
    if (run_to_end(f, "ingest", ingest) != 0) return -1;
    char urls[2][64];
    for (int i = 0; i < 2; i++) {
        const char *model[] = {"model", NULL};
        if (ragd_start(&f->models[i], model, 120) < 0) return -1;
        f->nmodels++;
        ragd_url(&f->models[i], "", urls[i], sizeof urls[i]);
    }
    const char *gateway[] = {"gateway", f->store_flag, f->store_value, "--model-url", urls[0],
                             "--model-url", urls[1], NULL};
    if (ragd_start(&f->server, gateway, 60) < 0) return -1;
    /* ready once its health checks have found the model services */
    char ready[128];
    ragd_url(&f->server, "/ready", ready, sizeof ready);
    for (int i = 0; i < 600; i++) {
        http_reply r;
        int rc = http_call("GET", ready, NULL, NULL, 0, NULL, &r);
        long status = r.status;
        http_reply_free(&r);
        if (rc == 0 && status == 200) return check_store_kind(f, &f->server);
        usleep(50 * 1000);
    }
    fprintf(stderr, "ask_fixture: the gateway never became ready\n");
    return -1;
}

int ask_fixture_start_gateway(ask_fixture *f) {
    if (prepare(f) < 0 || start_split(f) < 0) {
        ask_fixture_stop(f, true); /* no process outlives a failed start */
        return -1;
    }
    return 0;
}

int ask_fixture_start_again(ask_fixture *f, ragd_proc *p, const char *const *extra_args) {
    return start_on(f, p, extra_args);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

int ask_fixture_stop(ask_fixture *f, bool remove_dir) {
    int rc = f->server.pid > 0 ? ragd_stop(&f->server) : 0;
    for (int i = 0; i < f->nmodels; i++) {
        int m = f->models[i].pid > 0 ? ragd_stop(&f->models[i]) : 0;
        if (!rc) rc = m;
    }
    f->nmodels = 0;
    if (remove_dir && f->on_pg) {
        pg_cluster_destroy(&f->pg);
        f->on_pg = false;
    }
    if (remove_dir && f->dir[0]) nftw(f->dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return rc;
}

int ask_post(const ragd_proc *p, const char *body, bool sse, http_reply *out) {
    char url[128];
    ragd_url(p, "/ask", url, sizeof url);
    const char *sse_headers[] = {"Accept: text/event-stream", NULL};
    return http_call("POST", url, "application/json", body, strlen(body), sse ? sse_headers : NULL,
                     out);
}

int wire_events_parse(const char *body, wire_event **events) {
    int n = 0, cap = 0;
    *events = NULL;
    buf name = BUF_INIT, data = BUF_INIT;
    bool has_data = false;
    const char *line = body;
    while (*line) {
        size_t len = strcspn(line, "\n");
        size_t content = len && line[len - 1] == '\r' ? len - 1 : len;
        if (content == 0) {
            if (has_data) {
                if (n == cap) {
                    cap = cap ? cap * 2 : 16;
                    *events = xrealloc(*events, (size_t)cap * sizeof **events);
                }
                (*events)[n].name = xstrdup(name.len ? name.data : "message");
                (*events)[n].data = xstrdup(data.data ? data.data : "");
                n++;
            }
            buf_clear(&name);
            buf_clear(&data);
            has_data = false;
        } else if (content >= 6 && !strncmp(line, "event:", 6)) {
            size_t skip = line[6] == ' ' ? 7 : 6;
            buf_clear(&name);
            buf_append(&name, line + skip, content - skip);
        } else if (content >= 5 && !strncmp(line, "data:", 5)) {
            size_t skip = content > 5 && line[5] == ' ' ? 6 : 5;
            if (has_data) buf_putc(&data, '\n');
            buf_append(&data, line + skip, content - skip);
            has_data = true;
        }
        line += len + (line[len] == '\n');
    }
    buf_free(&name);
    buf_free(&data);
    return n;
}

void wire_events_free(wire_event *events, int n) {
    for (int i = 0; i < n; i++) {
        free(events[i].name);
        free(events[i].data);
    }
    free(events);
}

const ask_article *ask_article_by_heading(const char *heading) {
    for (int i = 0; i < ask_corpus_len; i++)
        if (heading && !strcmp(ask_corpus[i].heading, heading)) return &ask_corpus[i];
    return NULL;
}
