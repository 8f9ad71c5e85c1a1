/* test_options — flag parsing (app/options.h): defaults, then the
 * environment, then the command line, each winning over the one before;
 * every value type with its errors; --no-X for booleans, -k short flags,
 * --name=value, "--" ending the flags; positional arguments moved to the
 * front; repeatable lists; help generated from the same table; and the
 * growable list (no hand count, a duplicate name refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/options.h"
#include "util/util.h"

typedef struct targets {
    const char *name;
    int port;
    double ratio;
    bool verbose;
    int k;
    option_strings urls;
} targets;

static const command_info info = {"demo", "[file…]", "A demo command."};

static void build(option_list *l, targets *t) {
    *t = (targets){.name = "default", .port = 8000, .ratio = 0.5, .verbose = false, .k = 5,
                   .urls = {.items = {"http://a"}, .n = 1, .provisional = true}};
    *l = (option_list)OPTION_LIST_INIT;
    const option_spec specs[] = {
        {"name", "DEMO_NAME", OPT_STRING, &t->name, "a name", 0, 0},
        {"port", "DEMO_PORT", OPT_INT, &t->port, "a port", 1, 65535},
        {"ratio", "DEMO_RATIO", OPT_DOUBLE, &t->ratio, "a ratio", 0, 0},
        {"verbose", "DEMO_VERBOSE", OPT_BOOL, &t->verbose, "talk more", 0, 0},
        {"k", NULL, OPT_INT, &t->k, "how many", 1, 50},
        {"url", "DEMO_URLS", OPT_STRING_LIST, &t->urls, "a URL", 0, 0},
    };
    options_add_all(l, specs, ARRAY_LEN(specs));
}

/* Parse a NULL-terminated argument list (copied: parsing reorders argv). */
static options_result parse(option_list *l, char **argv_out, int *npos, const char *first, ...) {
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *)) argv_out[argc++] = (char *)a;
    va_end(ap);
    argv_out[argc] = NULL;
    return options_parse(&info, l, argc, argv_out, npos);
}

static void clear_env(void) {
    unsetenv("DEMO_NAME");
    unsetenv("DEMO_PORT");
    unsetenv("DEMO_RATIO");
    unsetenv("DEMO_VERBOSE");
    unsetenv("DEMO_URLS");
}

static void defaults_stand_without_flags(void **state) {
    clear_env();
    option_list l;
    targets t;
    build(&l, &t);
    char *argv[8];
    int npos = -1;
    assert_int_equal(parse(&l, argv, &npos, "demo", NULL), OPTIONS_OK);
    assert_int_equal(npos, 0);
    assert_string_equal(t.name, "default");
    assert_int_equal(t.port, 8000);
    assert_int_equal(t.urls.n, 1);
    options_free(&l);
}

static void flag_beats_environment_beats_default(void **state) {
    clear_env();
    setenv("DEMO_NAME", "from-env", 1);
    setenv("DEMO_PORT", "9000", 1);
    setenv("DEMO_VERBOSE", "yes", 1);
    option_list l;
    targets t;
    build(&l, &t);
    char *argv[8];
    int npos;
    assert_int_equal(parse(&l, argv, &npos, "demo", "--port", "9100", NULL), OPTIONS_OK);
    assert_string_equal(t.name, "from-env");
    assert_int_equal(t.port, 9100);
    assert_true(t.verbose);
    options_free(&l);
    clear_env();
}

static void every_form_of_flag(void **state) {
    clear_env();
    option_list l;
    targets t;
    build(&l, &t);
    char *argv[16];
    int npos;
    assert_int_equal(parse(&l, argv, &npos, "demo", "a.txt", "--name=x=y", "-k", "7", "--ratio",
                           "0.25", "--verbose", "b.txt", "--", "--not-a-flag", NULL),
                     OPTIONS_OK);
    assert_string_equal(t.name, "x=y"); /* only the first '=' separates */
    assert_int_equal(t.k, 7);
    assert_true(t.ratio == 0.25);
    assert_true(t.verbose);
    assert_int_equal(npos, 3);
    assert_string_equal(argv[1], "a.txt");
    assert_string_equal(argv[2], "b.txt");
    assert_string_equal(argv[3], "--not-a-flag");
    options_free(&l);

    build(&l, &t);
    t.verbose = true;
    assert_int_equal(parse(&l, argv, &npos, "demo", "--no-verbose", NULL), OPTIONS_OK);
    assert_false(t.verbose);
    assert_int_equal(parse(&l, argv, &npos, "demo", "--verbose=on", NULL), OPTIONS_OK);
    assert_true(t.verbose);
    options_free(&l);
}

static void lists_replace_then_append(void **state) {
    clear_env();
    setenv("DEMO_URLS", "http://env", 1);
    option_list l;
    targets t;
    build(&l, &t);
    char *argv[8];
    int npos;
    assert_int_equal(parse(&l, argv, &npos, "demo", NULL), OPTIONS_OK);
    assert_int_equal(t.urls.n, 1);
    assert_string_equal(t.urls.items[0], "http://env"); /* the environment replaced the default */
    options_free(&l);
    build(&l, &t);
    assert_int_equal(parse(&l, argv, &npos, "demo", "--url", "http://b", "--url", "http://c", NULL),
                     OPTIONS_OK);
    assert_int_equal(t.urls.n, 2); /* flags replace the environment, then append */
    assert_string_equal(t.urls.items[0], "http://b");
    assert_string_equal(t.urls.items[1], "http://c");
    options_free(&l);
    clear_env();
}

static void bad_values_are_errors(void **state) {
    clear_env();
    static const char *const bad[][3] = {
        {"--port", "80x", NULL},      {"--port", "0", NULL},         {"--port", "70000", NULL},
        {"--ratio", "half", NULL},    {"--verbose=maybe", NULL, NULL}, {"--nope", NULL, NULL},
        {"-q", NULL, NULL},           {"-xyz", NULL, NULL},          {"--name", NULL, NULL},
        {"--no-name", NULL, NULL},
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        option_list l;
        targets t;
        build(&l, &t);
        char *argv[8];
        int npos;
        if (parse(&l, argv, &npos, "demo", bad[i][0], bad[i][1], NULL) != OPTIONS_ERROR)
            fail_msg("%s %s was accepted", bad[i][0], bad[i][1] ? bad[i][1] : "");
        assert_int_equal(t.port, 8000); /* a bad value is not stored */
        options_free(&l);
    }
    setenv("DEMO_PORT", "not-a-port", 1);
    option_list l;
    targets t;
    build(&l, &t);
    char *argv[4];
    int npos;
    assert_int_equal(parse(&l, argv, &npos, "demo", NULL), OPTIONS_ERROR); /* the environment too */
    options_free(&l);
    clear_env();
}

static void help_comes_from_the_table(void **state) {
    clear_env();
    option_list l;
    targets t;
    build(&l, &t);
    char *argv[4];
    int npos;
    fflush(stdout);
    char path[] = "/tmp/test_options_help_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(1);
    dup2(fd, 1);
    options_result rc = parse(&l, argv, &npos, "demo", "--help", NULL);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    close(fd);
    assert_int_equal(rc, OPTIONS_HELP);
    size_t len;
    char *text = read_file(path, &len, NULL, 0);
    unlink(path);
    assert_non_null(text);
    assert_non_null(strstr(text, "Usage: ragd demo [options] [file…]"));
    assert_non_null(strstr(text, "--port N"));
    assert_non_null(strstr(text, "(default: 8000) [env DEMO_PORT]"));
    assert_non_null(strstr(text, "-k N"));
    assert_non_null(strstr(text, "--url S"));
    assert_non_null(strstr(text, "repeatable; default: http://a"));
    free(text);
    options_free(&l);
}

static void the_list_grows_without_a_count(void **state) {
    option_list l = OPTION_LIST_INIT;
    static int values[200];
    static char names[200][16];
    for (int i = 0; i < 200; i++) {
        snprintf(names[i], sizeof names[i], "opt-%d", i);
        options_add(&l, (option_spec){names[i], NULL, OPT_INT, &values[i], "one of many", 0, 0});
    }
    assert_int_equal(l.n, 200);
    char *argv[] = {"demo", "--opt-199", "7", "--opt-0", "3", NULL};
    int npos;
    assert_int_equal(options_parse(&info, &l, 5, argv, &npos), OPTIONS_OK);
    assert_int_equal(values[199], 7);
    assert_int_equal(values[0], 3);
    options_free(&l);
    assert_null(l.items);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_stand_without_flags),
        cmocka_unit_test(flag_beats_environment_beats_default),
        cmocka_unit_test(every_form_of_flag),
        cmocka_unit_test(lists_replace_then_append),
        cmocka_unit_test(bad_values_are_errors),
        cmocka_unit_test(help_comes_from_the_table),
        cmocka_unit_test(the_list_grows_without_a_count),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
