/* embedded — documents compiled into the binary (see cmake/embed.cmake), so
 * GET /, /docs and /openapi.json work wherever ragd is started from. Each is
 * NUL-terminated; _len excludes the NUL. */
#ifndef RAGD_APP_EMBEDDED_H
#define RAGD_APP_EMBEDDED_H

#include <stddef.h>

extern const unsigned char embedded_readme[];   /* README.md */
extern const size_t embedded_readme_len;
extern const unsigned char embedded_readme_ru[];  /* README.ru.md */
extern const size_t embedded_readme_ru_len;
extern const unsigned char embedded_api_md[];   /* docs/api.md */
extern const size_t embedded_api_md_len;
extern const unsigned char embedded_openapi[];  /* docs/openapi.json */
extern const size_t embedded_openapi_len;

#endif
