/* query.h: the AWS Query protocol on ecsboxd's endpoint (form-encoded POST with Action and Version, XML
 * answers): EC2 (2016-11-15) translated to netd's socket API. ELBv2 (2015-12-01) is recognised and
 * refused until it exists. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "../front/api.h"

#define QUERY_EC2_VERSION "2016-11-15"
#define QUERY_ELBV2_VERSION "2015-12-01"
#define QUERY_EC2_XMLNS "http://ec2.amazonaws.com/doc/2016-11-15/"
#define QUERY_ELBV2_XMLNS "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/"

struct sched;

/* A Query request: Content-Type application/x-www-form-urlencoded. */
bool query_is_form(const char *content_type);

/* The SigV4 service a Query request must be signed for, from its Version: "ec2",
 * "elasticloadbalancing", or NULL (no Version the endpoint knows: the handler refuses it). */
const char *query_signing_name(const char *body, size_t len, const char *url_query);

/* A refusal of the signature check in EC2's words: AuthFailure (401), or RequestExpired (400) for a
 * request outside the 5-minute window; the message is the check's. */
void query_auth_error(struct api_response *ret, int status, const char *code, const char *msg);

/* Handles one authenticated Query request completely (ret gets an XML body and its content type). */
void query_handle(struct sched *s, const char *body, size_t len, const char *url_query, bool too_large,
                  struct api_response *ret);
