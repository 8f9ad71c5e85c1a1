/* test_readme_languages — GET / over real HTTP picks the English or the
 * Russian README by Accept-Language (weights, regional variants, malformed
 * headers) or by ?lang=, says which in Content-Language and <html lang>,
 * declares Vary: Accept-Language, and each page's language link leads to the
 * other page. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "json_error.h"
#include "util/util.h"

static ask_fixture fixture;
static ragd_proc server;
/* "<h1>…</h1>" as md4c renders each README's first line, read from the checkout. */
static char *title_en, *title_ru;

static char *first_heading(const char *file) {
    char path[512];
    snprintf(path, sizeof path, "%s/%s", getenv("RAGD_SOURCE_DIR"), file);
    char *md = read_file(path, NULL, NULL, 0);
    assert_non_null(md);
    assert_true(strncmp(md, "# ", 2) == 0);
    *strchr(md, '\n') = '\0';
    buf h = BUF_INIT;
    buf_printf(&h, "<h1>%s</h1>", md + 2);
    free(md);
    return buf_detach(&h);
}

static int start_server(void **state) {
    title_en = first_heading("README.md");
    title_ru = first_heading("README.ru.md");
    if (ask_fixture_start(&fixture, NULL) < 0) return -1;
    server = fixture.server;
    return 0;
}

static int stop_server(void **state) {
    free(title_en);
    free(title_ru);
    int rc = ask_fixture_stop(&fixture, true);
    if (rc != 0) fprintf(stderr, "ragd serve exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

/* GET path with an Accept-Language header (NULL: none). */
static void get_page(const char *path, const char *accept_language, http_reply *r) {
    char url[256], header[256];
    ragd_url(&server, path, url, sizeof url);
    const char *headers[] = {header, NULL};
    if (accept_language) snprintf(header, sizeof header, "Accept-Language: %s", accept_language);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, accept_language ? headers : NULL, r), 0);
}

/* The reply is the README page in lang ("en" or "ru"), declared as such. */
static void assert_page_in(const http_reply *r, const char *lang, const char *why) {
    if (r->status != 200) fail_msg("%s: status %ld", why, r->status);
    char *ctype = http_reply_header(r, "Content-Type");
    assert_non_null(ctype);
    assert_non_null(strstr(ctype, "text/html"));
    free(ctype);
    char *content_language = http_reply_header(r, "Content-Language");
    if (!content_language || strcmp(content_language, lang) != 0)
        fail_msg("%s: Content-Language %s, expected %s", why, content_language, lang);
    free(content_language);
    char *vary = http_reply_header(r, "Vary");
    if (!vary || !strstr(vary, "Accept-Language")) fail_msg("%s: Vary is %s", why, vary);
    free(vary);
    char html_lang[32];
    snprintf(html_lang, sizeof html_lang, "<html lang=\"%s\">", lang);
    if (!strstr(r->body.data, html_lang)) fail_msg("%s: the page lacks %s", why, html_lang);
    bool ru = strcmp(lang, "ru") == 0;
    if (!strstr(r->body.data, ru ? title_ru : title_en)) fail_msg("%s: not the %s README", why, lang);
    if (strstr(r->body.data, ru ? title_en : title_ru)) fail_msg("%s: both READMEs in one page", why);
    assert_non_null(strstr(r->body.data, "<table>"));
}

static void accept_language_picks_the_page(void **state) {
    static const struct {
        const char *header, *lang;
    } cases[] = {
        {NULL, "en"},
        {"ru;q=0.9,en;q=0.8", "ru"},
        {"en,ru;q=0.5", "en"},
        {"ru-RU", "ru"},
        {"ru-RU,ru;q=0.9,en-US;q=0.8,en;q=0.7", "ru"},
        {"en-GB,en;q=0.9,ru;q=0.8", "en"},
        {"de-DE,ru;q=0.3", "ru"},
        {"de-DE", "en"},
        {"ru;q=abc", "en"},
        {"ru;q=1.5", "en"},
        {"ru en", "en"},
        {"*", "en"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        char why[128];
        snprintf(why, sizeof why, "Accept-Language: %s", cases[i].header ? cases[i].header : "(none)");
        http_reply r;
        get_page("/", cases[i].header, &r);
        assert_page_in(&r, cases[i].lang, why);
        http_reply_free(&r);
    }
}

static void lang_query_overrides_accept_language(void **state) {
    http_reply r;
    get_page("/?lang=ru", "en", &r);
    assert_page_in(&r, "ru", "/?lang=ru, Accept-Language: en");
    http_reply_free(&r);
    get_page("/?lang=en", "ru", &r);
    assert_page_in(&r, "en", "/?lang=en, Accept-Language: ru");
    http_reply_free(&r);
    get_page("/?lang=ru", NULL, &r);
    assert_page_in(&r, "ru", "/?lang=ru");
    http_reply_free(&r);
}

static void unknown_lang_is_a_json_error(void **state) {
    const char *paths[] = {"/?lang=de", "/?lang=RU", "/?lang=", "/?lang=ru-RU"};
    for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
        http_reply r;
        get_page(paths[i], "ru", &r);
        assert_json_error(&r, 400, "bad_request");
        assert_non_null(strstr(r.body.data, "lang"));
        http_reply_free(&r);
    }
}

/* The page in from links to the page in to, and following that link gets it. */
static void follow_language_link(const char *from, const char *to) {
    char path[32], href[64];
    snprintf(path, sizeof path, "/?lang=%s", from);
    snprintf(href, sizeof href, "href=\"/?lang=%s\"", to);
    http_reply r;
    get_page(path, NULL, &r);
    assert_int_equal(r.status, 200);
    if (!strstr(r.body.data, href)) fail_msg("the %s page has no %s", from, href);
    /* The Markdown links to files: served, they would 404. */
    assert_null(strstr(r.body.data, "href=\"./README"));
    http_reply_free(&r);
    /* Follow it with a browser's header that prefers the page we come from. */
    snprintf(path, sizeof path, "/?lang=%s", to);
    get_page(path, from, &r);
    char why[64];
    snprintf(why, sizeof why, "the link from the %s page", from);
    assert_page_in(&r, to, why);
    http_reply_free(&r);
}

static void each_page_links_to_the_other(void **state) {
    follow_language_link("en", "ru");
    follow_language_link("ru", "en");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_language_picks_the_page),
        cmocka_unit_test(lang_query_overrides_accept_language),
        cmocka_unit_test(unknown_lang_is_a_json_error),
        cmocka_unit_test(each_page_links_to_the_other),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
