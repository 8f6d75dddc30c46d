/* query.c: the Query protocol's edge: Action and Version routed, EC2 requests translated to netd's socket
 * API over botocore's model and answered in EC2's XML, ELBv2 requests decoded over botocore's ELBv2 model and
 * handed to scheduler/elb/, errors as each service writes them. */
#include <errno.h>
#include <libxml/xmlwriter.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "ecsbox/cleanup.h"
#include "ecsbox/json.h"
#include "ecsbox/log.h"
#include "../elb/elb.h"
#include "../netd_client.h"
#include "../sched.h"
#include "form.h"
#include "model.h"
#include "query.h"

#define XML_CONTENT_TYPE "text/xml;charset=UTF-8"

bool query_is_form(const char *content_type)
{
        return content_type && strncasecmp(content_type, "application/x-www-form-urlencoded", 33) == 0;
}

const char *query_signing_name(const char *body, size_t len, const char *url_query)
{
        _cleanup_json_ json_t *p = NULL;
        struct err e = { 0 };
        const char *v;
        if (query_form_parse(body, len, url_query, &p, &e) < 0 || !(v = json_string_value(json_object_get(p, "Version"))))
                return NULL;
        if (strcmp(v, QUERY_EC2_VERSION) == 0)
                return "ec2";
        if (strcmp(v, QUERY_ELBV2_VERSION) == 0)
                return "elasticloadbalancing";
        return NULL;
}

/* ---- answers ---- */

static void xml_answer(struct api_response *ret, int status, xmlBufferPtr buf)
{
        ret->status = status;
        ret->content_type = XML_CONTENT_TYPE;
        ret->body = strndup((const char *) xmlBufferContent(buf), (size_t) xmlBufferLength(buf));
        if (!ret->body) {
                ret->status = 500;
                ret->body = strdup("<Response><Errors><Error><Code>InternalError</Code><Message>out of memory</Message></Error></Errors></Response>");
        }
}

/* EC2: <Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>, no namespace.
 * ELBv2: <ErrorResponse xmlns=...><Error><Type>Sender|Receiver</Type><Code/><Message/></Error><RequestId/></ErrorResponse>. */
static void error_answer(struct api_response *ret, bool elbv2, int status, const char *code, const char *msg)
{
        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        if (!w) {
                xmlBufferFree(buf);
                ret->status = 500;
                ret->content_type = XML_CONTENT_TYPE;
                ret->body = strdup("<Response><Errors><Error><Code>InternalError</Code><Message>out of memory</Message></Error></Errors></Response>");
                return;
        }
        xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL);
        if (elbv2) {
                xmlTextWriterStartElementNS(w, NULL, BAD_CAST "ErrorResponse", BAD_CAST QUERY_ELBV2_XMLNS);
                xmlTextWriterStartElement(w, BAD_CAST "Error");
                xmlTextWriterWriteElement(w, BAD_CAST "Type", BAD_CAST(status >= 500 ? "Receiver" : "Sender"));
                xmlTextWriterWriteElement(w, BAD_CAST "Code", BAD_CAST code);
                xmlTextWriterWriteElement(w, BAD_CAST "Message", BAD_CAST msg);
                xmlTextWriterEndElement(w);
                xmlTextWriterWriteElement(w, BAD_CAST "RequestId", BAD_CAST ret->request_id);
        } else {
                xmlTextWriterStartElement(w, BAD_CAST "Response");
                xmlTextWriterStartElement(w, BAD_CAST "Errors");
                xmlTextWriterStartElement(w, BAD_CAST "Error");
                xmlTextWriterWriteElement(w, BAD_CAST "Code", BAD_CAST code);
                xmlTextWriterWriteElement(w, BAD_CAST "Message", BAD_CAST msg);
                xmlTextWriterEndElement(w);
                xmlTextWriterEndElement(w);
                xmlTextWriterWriteElement(w, BAD_CAST "RequestID", BAD_CAST ret->request_id);
        }
        xmlTextWriterEndDocument(w);
        xmlFreeTextWriter(w);
        xml_answer(ret, status, buf);
        xmlBufferFree(buf);
}

void query_auth_error(struct api_response *ret, int status, const char *code, const char *msg)
{
        memset(ret, 0, sizeof *ret);
        if (uuid_new(ret->request_id) < 0)
                snprintf(ret->request_id, sizeof ret->request_id, "00000000-0000-4000-8000-000000000000");
        if (status >= 500)
                error_answer(ret, false, 500, "InternalError", msg);
        else if (strstr(msg, "Signature expired") || strstr(msg, "not yet current"))
                error_answer(ret, false, 400, "RequestExpired", msg);
        else
                error_answer(ret, false, 401, "AuthFailure", msg[0] ? msg : code);
}

/* The status of an EC2 error code: 400 for what the caller got wrong, as EC2 answers. */
static int ec2_status(const char *code)
{
        if (!strcmp(code, "InternalError"))
                return 500;
        if (!strcmp(code, "Unavailable") || !strcmp(code, "RequestLimitExceeded"))
                return 503;
        if (!strcmp(code, "DryRunOperation"))
                return 412;
        if (!strcmp(code, "UnauthorizedOperation"))
                return 403;
        return 400;
}

static int model_get(struct query_model **slot, const char *json_text, const struct query_model **ret, struct err *err)
{
        int r;
        if (!*slot) {
                struct query_model *m = calloc(1, sizeof *m);
                if (!m)
                        return err_set(err, ENOMEM, NULL, "out of memory");
                if ((r = query_model_load(json_text, m, err)) < 0) {
                        free(m);
                        return r;
                }
                *slot = m;
        }
        *ret = *slot;
        return 0;
}

static int ec2_model(struct sched *s, const struct query_model **ret, struct err *err)
{
        return model_get(&s->ec2_model, query_ec2_model_json, ret, err);
}

/* The status of an ELBv2 error code, as the model gives them (what is not modeled: 400). */
static int elbv2_status(const char *code)
{
        if (!strcmp(code, "InternalFailure") || !strcmp(code, "HealthUnavailable"))
                return 500;
        if (!strcmp(code, "ServiceUnavailable"))
                return 503;
        if (!strcmp(code, "PriorRequestNotComplete"))
                return 429;
        if (!strcmp(code, "AccessDenied"))
                return 403;
        return 400;
}

/* An ELBv2 request: the model turns the parameters into the request of scheduler/elb/, its answer into
 * <OpResponse><OpResult>…</OpResult><ResponseMetadata><RequestId/></ResponseMetadata></OpResponse>. */
static void elbv2_handle(struct sched *s, const char *op, json_t *params, struct api_response *ret)
{
        const struct query_model *m = NULL;
        const char *in = NULL, *out = NULL, *wrapper, *left;
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        struct err err = { 0 };
        json_t *v;
        int r;

        if (model_get(&s->elbv2_model, query_elbv2_model_json, &m, &err) < 0) {
                error_answer(ret, true, 500, "InternalFailure", err.msg);
                return;
        }
        if (!query_model_op(m, op, &in, &out)) {
                char msg[300];
                snprintf(msg, sizeof msg, "The action %.100s is not valid for this web service.", op);
                error_answer(ret, true, 400, "InvalidAction", msg);
                return;
        }
        json_object_del(params, "Action");
        json_object_del(params, "Version");
        if ((r = query_model_input(m, in, params, &req, &err)) < 0) {
                error_answer(ret, true, 400, err.code[0] ? "ValidationError" : "InternalFailure", err.msg);
                return;
        }
        json_object_foreach(params, left, v) {
                char msg[300];
                snprintf(msg, sizeof msg, "The parameter %.100s is not recognized", left);
                error_answer(ret, true, 400, "ValidationError", msg);
                return;
        }
        struct api_ctx c = { .s = s, .op = op };
        snprintf(c.region, sizeof c.region, "%s", s->region);
        if ((r = elb_handle(&c, op, req, &ans, &err)) < 0) {
                const char *code = err.code[0] ? err.code : "InternalFailure";
                if (!err.code[0])
                        log_error("request=%s op=%s status=500 err=\"%s\"", ret->request_id, op, err.msg);
                else
                        log_debug("request=%s op=%s code=%s msg=\"%s\"", ret->request_id, op, code, err.msg);
                error_answer(ret, true, elbv2_status(code), code, err.msg);
                return;
        }

        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        char root[160], result[160];
        if (!w) {
                xmlBufferFree(buf);
                error_answer(ret, true, 500, "InternalFailure", "out of memory");
                return;
        }
        wrapper = query_model_result_wrapper(m, op);
        snprintf(root, sizeof root, "%sResponse", op);
        if (wrapper)
                snprintf(result, sizeof result, "%s", wrapper);
        else
                snprintf(result, sizeof result, "%sResult", op);
        /* the Result element is written even when empty: botocore needs it */
        r = xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 ||
            xmlTextWriterStartElementNS(w, NULL, BAD_CAST root, BAD_CAST QUERY_ELBV2_XMLNS) < 0 ||
            xmlTextWriterStartElement(w, BAD_CAST result) < 0 ? -EIO : 0;
        if (r == 0)
                r = query_model_output(m, out, ans, w, &err);
        if (r == 0 && (xmlTextWriterEndElement(w) < 0 || xmlTextWriterStartElement(w, BAD_CAST "ResponseMetadata") < 0 ||
                       xmlTextWriterWriteElement(w, BAD_CAST "RequestId", BAD_CAST ret->request_id) < 0 ||
                       xmlTextWriterEndElement(w) < 0 || xmlTextWriterEndElement(w) < 0 || xmlTextWriterEndDocument(w) < 0))
                r = -EIO;
        xmlFreeTextWriter(w);
        if (r < 0)
                error_answer(ret, true, 500, "InternalFailure", "the answer could not be written");
        else
                xml_answer(ret, 200, buf);
        xmlBufferFree(buf);
        log_debug("request=%s op=%s status=%d", ret->request_id, op, ret->status);
}

/* An EC2 request: the model turns the parameters into netd's request, netd's answer into the XML. */
static void ec2_handle(struct sched *s, const char *op, json_t *params, struct api_response *ret)
{
        const struct query_model *m = NULL;
        const char *in = NULL, *out = NULL;
        _cleanup_json_ json_t *req = NULL, *ans = NULL;
        struct err err = { 0 };
        const char *left;
        json_t *v;
        int r;

        if (ec2_model(s, &m, &err) < 0) {
                error_answer(ret, false, 500, "InternalError", err.msg);
                return;
        }
        if (!query_model_op(m, op, &in, &out)) {
                char msg[300];
                snprintf(msg, sizeof msg, "The action %.100s is not valid for this web service.", op);
                error_answer(ret, false, 400, "InvalidAction", msg);
                return;
        }
        json_object_del(params, "Action");
        json_object_del(params, "Version");
        if ((r = query_ec2_input(m, in, params, &req, &err)) < 0) {
                error_answer(ret, false, ec2_status(err.code[0] ? err.code : "InternalError"), err.code[0] ? err.code : "InternalError",
                             err.msg);
                return;
        }
        json_object_foreach(params, left, v) {
                char msg[300];
                snprintf(msg, sizeof msg, "The parameter %.100s is not recognized", left);
                error_answer(ret, false, 400, "UnknownParameter", msg);
                return;
        }
        if (json_is_true(json_object_get(req, "DryRun"))) {
                error_answer(ret, false, 412, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.");
                return;
        }
        json_object_del(req, "DryRun");
        json_object_set_new(req, "Action", json_string(op));
        if ((r = s->netd_call(s, req, &ans, &err)) < 0) {
                const char *code = netd_code(&err);
                if (!*code) {
                        log_error("request=%s op=%s status=503 err=\"%s\"", ret->request_id, op, err.msg);
                        error_answer(ret, false, 503, "Unavailable", "The network service (ecsbox-netd) is unavailable; try again.");
                } else {
                        log_debug("request=%s op=%s code=%s msg=\"%s\"", ret->request_id, op, code, err.msg);
                        error_answer(ret, false, ec2_status(code), code, err.msg);
                }
                return;
        }

        xmlBufferPtr buf = xmlBufferCreate();
        xmlTextWriterPtr w = buf ? xmlNewTextWriterMemory(buf, 0) : NULL;
        char root[160];
        if (!w) {
                xmlBufferFree(buf);
                error_answer(ret, false, 500, "InternalError", "out of memory");
                return;
        }
        snprintf(root, sizeof root, "%sResponse", op);
        r = xmlTextWriterStartDocument(w, NULL, "UTF-8", NULL) < 0 ||
            xmlTextWriterStartElementNS(w, NULL, BAD_CAST root, BAD_CAST QUERY_EC2_XMLNS) < 0 ||
            xmlTextWriterWriteElement(w, BAD_CAST "requestId", BAD_CAST ret->request_id) < 0 ? -EIO : 0;
        if (r == 0)
                r = query_ec2_output(m, out, ans, w, &err);
        if (r == 0 && (xmlTextWriterEndElement(w) < 0 || xmlTextWriterEndDocument(w) < 0))
                r = -EIO;
        xmlFreeTextWriter(w);
        if (r < 0)
                error_answer(ret, false, 500, "InternalError", "the answer could not be written");
        else
                xml_answer(ret, 200, buf);
        xmlBufferFree(buf);
        log_debug("request=%s op=%s status=%d", ret->request_id, op, ret->status);
}

void query_handle(struct sched *s, const char *body, size_t len, const char *url_query, bool too_large, struct api_response *ret)
{
        _cleanup_json_ json_t *params = NULL;
        struct err err = { 0 };
        const char *op, *version;
        char opbuf[128], verbuf[32];

        memset(ret, 0, sizeof *ret);
        if (uuid_new(ret->request_id) < 0)
                snprintf(ret->request_id, sizeof ret->request_id, "00000000-0000-4000-8000-000000000000");
        if (too_large) {
                char msg[160];
                snprintf(msg, sizeof msg, "The request body exceeds the limit of %d bytes; nothing was done", SCHED_BODY_MAX);
                error_answer(ret, false, 400, "InvalidParameterValue", msg);
                return;
        }
        if (query_form_parse(body, len, url_query, &params, &err) < 0) {
                error_answer(ret, false, 400, err.code[0] ? err.code : "InternalError", err.msg);
                return;
        }
        /* copies: the EC2 path takes Action and Version out of params */
        snprintf(opbuf, sizeof opbuf, "%s", json_string_value(json_object_get(params, "Action")) ?: "");
        snprintf(verbuf, sizeof verbuf, "%s", json_string_value(json_object_get(params, "Version")) ?: "");
        op = opbuf;
        version = verbuf;
        if (!op || !*op) {
                error_answer(ret, false, 400, "MissingAction", "The request must contain the parameter Action.");
                return;
        }
        if (!version || !*version) {
                error_answer(ret, false, 400, "MissingParameter", "The request must contain the parameter Version.");
                return;
        }
        if (strcmp(version, QUERY_EC2_VERSION) == 0)
                ec2_handle(s, op, params, ret);
        else if (strcmp(version, QUERY_ELBV2_VERSION) == 0)
                elbv2_handle(s, op, params, ret);
        else {
                char msg[300];
                snprintf(msg, sizeof msg, "The requested version (%.40s) of this service does not exist: ecsboxd serves EC2 " QUERY_EC2_VERSION " and ELBv2 " QUERY_ELBV2_VERSION ".",
                         version);
                error_answer(ret, false, 400, "NoSuchVersion", msg);
        }
}
