/* form.h: an application/x-www-form-urlencoded body (and the URL's query string) as name -> value. Pure. */
#pragma once

#include <jansson.h>
#include <stddef.h>

#include "ecsbox/err.h"

/* Every name=value pair of body (len bytes) then of url_query (may be NULL), decoded as Python's
 * unquote_plus does ('+' is a space, then %XX) through libcurl, into a new object of strings. A name
 * given twice: the later one wins. Malformed escapes, NUL bytes, invalid UTF-8: MalformedQueryString. */
int query_form_parse(const char *body, size_t len, const char *url_query, json_t **ret, struct err *err);
