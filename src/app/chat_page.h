/* chat_page — GET /chat: the chat page (src/app/web/chat.html, compiled in). */
#ifndef RAGD_APP_CHAT_PAGE_H
#define RAGD_APP_CHAT_PAGE_H

#include "app/routes.h"

void chat_page_add_routes(route_list *routes);

#endif
