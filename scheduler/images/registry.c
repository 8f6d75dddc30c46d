/* registry.c: the OCI distribution client (libcurl): manifests, an index resolved to this host's
 * platform, blobs streamed into the blob store; bearer/basic auth, mirrors, insecure registries. */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "ecsbox/cleanup.h"
#include "manifest.h"
#include "regauth.h"
#include "regendpoint.h"
#include "registry.h"
#include "regproto.h"

#define ERRBODY_MAX 65536               /* of a non-2xx answer's body: enough for the error JSON */
#define TOKEN_MAX (1u << 20)
#define CHALLENGES_MAX 4
#define PROGRESS_EVERY_NS 100000000LL   /* 100 ms */
#define USER_AGENT "ecsbox (libcurl)"

DEFINE_TRIVIAL_CLEANUP(struct manifest *, manifest_free)

struct buf {
        char *data;
        size_t len;
};

enum sink_kind { SINK_NONE, SINK_BUF, SINK_BLOB };

/* One HTTP answer (the last one, after redirects) and where its body goes. */
struct answer {
        enum sink_kind sink;
        size_t max;                     /* SINK_BUF: refused beyond this */
        struct blob_writer *w;          /* SINK_BLOB, borrowed */

        long status;
        char content_type[256];
        char digest[BLOB_DIGEST_MAX];   /* Docker-Content-Digest */
        char *challenges[CHALLENGES_MAX];
        size_t n_challenges;
        int64_t content_length;
        struct buf body;                /* SINK_BUF, 2xx */
        struct buf errbody;             /* non-2xx: the first ERRBODY_MAX bytes */
        bool too_big;
        bool write_failed;
        struct err werr;                /* why a blob write failed */
};

/* The credentials and token of one (endpoint host, repository), kept for one pull. */
struct auth_state {
        char *host;
        char *repo;
        char *bearer;
        bool basic;                     /* the registry asked for Basic: send creds */
        bool creds_loaded;
        bool have_creds;
        struct reg_creds creds;
};

struct pull {
        const struct registry_config *cfg;
        const struct image_ref *ref;
        const char *root;
        CURLM *m;                       /* the pull's one transfer at a time; keeps its connections */
        CURL *c;
        char errbuf[CURL_ERROR_SIZE];
        registry_progress_fn progress;
        void *userdata;
        struct registry_progress prog;
        uint64_t blob_base;             /* bytes_done before the blob in flight */
        struct blob_writer *cur;        /* the blob in flight, for progress */
        struct registry_layer_progress *cur_layer;      /* its entry in prog.layers, NULL for the config */
        long long last_ns;
        bool cancelled;
        struct auth_state *auth;
        size_t n_auth;
};

struct req {
        const char *method;             /* "GET" or "HEAD" */
        const char *url;
        const char *accept;             /* or NULL */
        const char *bearer;             /* or NULL */
        const struct reg_creds *basic;  /* or NULL */
        bool verify_tls;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
        curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long long now_ns(void)
{
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void answer_reset(struct answer *a)
{
        for (size_t i = 0; i < a->n_challenges; i++)
                free(a->challenges[i]);
        a->n_challenges = 0;
        free(a->body.data);
        free(a->errbody.data);
        a->body = a->errbody = (struct buf) { 0 };
        a->status = 0;
        a->content_type[0] = a->digest[0] = '\0';
        a->content_length = -1;
        a->too_big = a->write_failed = false;
        err_clear(&a->werr);
}

static void answer_done(struct answer *a)
{
        answer_reset(a);
}

static bool is_2xx(long s)
{
        return s >= 200 && s < 300;
}

static int buf_append(struct buf *b, const char *p, size_t n)
{
        char *d = realloc(b->data, b->len + n + 1);
        if (!d)
                return -ENOMEM;
        memcpy(d + b->len, p, n);
        b->len += n;
        d[b->len] = '\0';
        b->data = d;
        return 0;
}

/* Every header line of every answer, redirects included: a status line starts a new answer. */
static size_t on_header(char *line, size_t size, size_t nitems, void *userdata)
{
        struct answer *a = userdata;
        size_t n = size * nitems, k;
        const char *colon, *v;
        char name[64];

        if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
                const char *sp = memchr(line, ' ', n);
                for (size_t i = 0; i < a->n_challenges; i++)
                        free(a->challenges[i]);
                a->n_challenges = 0;
                a->content_type[0] = a->digest[0] = '\0';
                a->content_length = -1;
                a->status = sp ? strtol(sp + 1, NULL, 10) : 0;
                return n;
        }
        colon = memchr(line, ':', n);
        if (!colon || (size_t) (colon - line) >= sizeof name)
                return n;
        snprintf(name, sizeof name, "%.*s", (int) (colon - line), line);
        v = colon + 1;
        while (v < line + n && (*v == ' ' || *v == '\t'))
                v++;
        k = (size_t) (line + n - v);
        while (k > 0 && (v[k - 1] == '\r' || v[k - 1] == '\n' || v[k - 1] == ' '))
                k--;
        if (!strcasecmp(name, "Content-Type"))
                snprintf(a->content_type, sizeof a->content_type, "%.*s", (int) k, v);
        else if (!strcasecmp(name, "Docker-Content-Digest"))
                snprintf(a->digest, sizeof a->digest, "%.*s", (int) k, v);
        else if (!strcasecmp(name, "Content-Length")) {
                a->content_length = strtoll(v, NULL, 10);
                /* refuse an oversized manifest before reading it */
                if (a->sink == SINK_BUF && is_2xx(a->status) && a->content_length > (int64_t) a->max) {
                        a->too_big = true;
                        return 0;
                }
        } else if (!strcasecmp(name, "WWW-Authenticate") && a->n_challenges < CHALLENGES_MAX) {
                if (!(a->challenges[a->n_challenges] = strndup(v, k)))
                        return 0;
                a->n_challenges++;
        }
        return n;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *userdata)
{
        struct answer *a = userdata;
        size_t n = size * nmemb;

        if (!is_2xx(a->status)) {
                size_t keep = a->errbody.len < ERRBODY_MAX ? ERRBODY_MAX - a->errbody.len : 0;
                if (keep && buf_append(&a->errbody, p, n < keep ? n : keep) < 0)
                        return 0;
                return n;
        }
        switch (a->sink) {
        case SINK_BUF:
                if (a->body.len + n > a->max) {
                        a->too_big = true;
                        return 0;
                }
                return buf_append(&a->body, p, n) < 0 ? 0 : n;
        case SINK_BLOB:
                if (blob_writer_write(a->w, p, n, &a->werr) < 0) {
                        a->write_failed = true;
                        return 0;
                }
                return n;
        case SINK_NONE:
                break;
        }
        return n;
}

_Static_assert(REGISTRY_MAX_LAYERS == MANIFEST_MAX_LAYERS, "a progress entry per layer a manifest may have");

const char *registry_layer_state_name(enum registry_layer_state s)
{
        switch (s) {
        case REG_LAYER_WAITING: return "waiting";
        case REG_LAYER_DOWNLOADING: return "downloading";
        case REG_LAYER_VERIFYING: return "verifying";
        case REG_LAYER_DOWNLOADED: return "downloaded";
        case REG_LAYER_EXTRACTING: return "extracting";
        case REG_LAYER_DONE: return "done";
        case REG_LAYER_EXISTS: return "exists";
        }
        return "?";
}

static void report(struct pull *p, bool force)
{
        long long t = now_ns();

        if (!p->progress || (!force && t - p->last_ns < PROGRESS_EVERY_NS))
                return;
        p->last_ns = t;
        if (p->cur) {
                uint64_t w = blob_writer_written(p->cur);
                p->prog.bytes_done = p->blob_base + w;
                if (p->cur_layer)
                        p->cur_layer->bytes_done = w;
        }
        if (p->progress(&p->prog, p->userdata) != 0)
                p->cancelled = true;
}

static int on_progress(void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        struct pull *p = clientp;
        report(p, false);
        return p->cancelled ? 1 : 0;
}

/* curl opens its sockets without SOCK_CLOEXEC (7.88): a fork+exec in another thread of ecsboxd
 * would inherit them. */
static curl_socket_t open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
        return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* curl_easy_perform on the pull's multi handle (whose wakeup pair is close-on-exec, multi_new). */
static CURLcode transfer(struct pull *p)
{
        CURLMcode mc;
        CURLMsg *msg;
        CURLcode rc = CURLE_OK;
        int running = 1, left;

        if ((mc = curl_multi_add_handle(p->m, p->c)) != CURLM_OK)
                return mc == CURLM_OUT_OF_MEMORY ? CURLE_OUT_OF_MEMORY : CURLE_FAILED_INIT;
        while (running) {
                if ((mc = curl_multi_perform(p->m, &running)) != CURLM_OK)
                        break;
                if (running && (mc = curl_multi_poll(p->m, NULL, 0, 1000, NULL)) != CURLM_OK)
                        break;
        }
        if (mc != CURLM_OK) {
                snprintf(p->errbuf, sizeof p->errbuf, "%s", curl_multi_strerror(mc));
                rc = CURLE_RECV_ERROR;
        }
        while ((msg = curl_multi_info_read(p->m, &left)))
                if (msg->msg == CURLMSG_DONE && msg->easy_handle == p->c)
                        rc = msg->data.result;
        (void) curl_multi_remove_handle(p->m, p->c);
        return rc;
}

/* A socket fd open now without FD_CLOEXEC, not in before[] (n_before entries): made close-on-exec. */
static size_t fds_scan(int *v, size_t max, const int *before, size_t n_before)
{
        DIR *d = opendir("/proc/self/fd");
        struct dirent *de;
        size_t n = 0;

        if (!d)
                return 0;
        while ((de = readdir(d))) {
                int fd = atoi(de->d_name), fl;
                bool seen = false;
                if (de->d_name[0] == '.' || fd == dirfd(d) || (fl = fcntl(fd, F_GETFD)) < 0 || (fl & FD_CLOEXEC))
                        continue;
                for (size_t i = 0; i < n_before && !seen; i++)
                        seen = before[i] == fd;
                if (before && !seen) {
                        char link[64], target[64] = "";
                        snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
                        if (readlink(link, target, sizeof target - 1) > 0 && !strncmp(target, "socket:", 7))
                                (void) fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
                } else if (!before && n < max)
                        v[n++] = fd;
        }
        closedir(d);
        return n;
}

/* curl_multi_init, its wakeup socketpair made close-on-exec: libcurl before 8.8 creates it without
 * SOCK_CLOEXEC (curl issue 13618) and offers no hook for it. The sockets it opens in the pair's
 * place are told apart by a scan of /proc/self/fd before and after; the window between socketpair()
 * and the fcntl() is the one left (the other is the threaded resolver's pair, while a host name is
 * resolved). */
static CURLM *multi_new(void)
{
        int before[1024];
        size_t n = fds_scan(before, ELEMENTSOF(before), NULL, 0);
        CURLM *m = curl_multi_init();

        if (m)
                (void) fds_scan(NULL, 0, before, n);
        return m;
}

static int curl_errno(CURLcode rc)
{
        switch (rc) {
        case CURLE_COULDNT_RESOLVE_HOST:
        case CURLE_COULDNT_RESOLVE_PROXY:
                return EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                return ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                return ETIMEDOUT;
        case CURLE_OUT_OF_MEMORY:
                return ENOMEM;
        default:
                return EPROTO;
        }
}

/* One request on the pull's handle (connections kept between requests). Transport failures are
 * REG_E_UNREACHABLE, message "URL: curl's text"; the answer's status is left to the caller. */
static int perform(struct pull *p, const struct req *rq, struct answer *a, struct err *err)
{
        const struct registry_config *cfg = p->cfg;
        long timeout = cfg->timeout_s > 0 ? cfg->timeout_s : 60;
        struct curl_slist *h = NULL, *nh;
        _cleanup_free_ char *accept = NULL, *auth = NULL;
        CURLcode rc;

        answer_reset(a);
        if (rq->accept && asprintf(&accept, "Accept: %s", rq->accept) < 0)
                return accept = NULL, -ENOMEM;
        if (rq->bearer && asprintf(&auth, "Authorization: Bearer %s", rq->bearer) < 0)
                return auth = NULL, -ENOMEM;
        if (accept) {
                if (!(nh = curl_slist_append(h, accept)))
                        goto nomem;
                h = nh;
        }
        if (auth) {
                if (!(nh = curl_slist_append(h, auth)))
                        goto nomem;
                h = nh;
        }

        /* reset keeps the connection cache: one pull reuses its connections */
        curl_easy_reset(p->c);
        p->errbuf[0] = '\0';
        curl_easy_setopt(p->c, CURLOPT_URL, rq->url);
        curl_easy_setopt(p->c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(p->c, CURLOPT_ERRORBUFFER, p->errbuf);
        curl_easy_setopt(p->c, CURLOPT_USERAGENT, USER_AGENT);
        curl_easy_setopt(p->c, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(p->c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        /* registries send blobs to storage (S3, a CDN) with a redirect; curl does not carry
         * Authorization to another host (CURLOPT_UNRESTRICTED_AUTH stays off) */
        curl_easy_setopt(p->c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(p->c, CURLOPT_MAXREDIRS, 10L);
        curl_easy_setopt(p->c, CURLOPT_CONNECTTIMEOUT, timeout);
        curl_easy_setopt(p->c, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(p->c, CURLOPT_LOW_SPEED_TIME, timeout);
        curl_easy_setopt(p->c, CURLOPT_OPENSOCKETFUNCTION, open_socket);
        curl_easy_setopt(p->c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(p->c, CURLOPT_HEADERDATA, a);
        curl_easy_setopt(p->c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(p->c, CURLOPT_WRITEDATA, a);
        curl_easy_setopt(p->c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(p->c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(p->c, CURLOPT_XFERINFODATA, p);
        curl_easy_setopt(p->c, CURLOPT_SSL_VERIFYPEER, rq->verify_tls ? 1L : 0L);
        curl_easy_setopt(p->c, CURLOPT_SSL_VERIFYHOST, rq->verify_tls ? 2L : 0L);
        if (cfg->ca_file)
                curl_easy_setopt(p->c, CURLOPT_CAINFO, cfg->ca_file);
        if (h)
                curl_easy_setopt(p->c, CURLOPT_HTTPHEADER, h);
        if (!strcmp(rq->method, "HEAD"))
                curl_easy_setopt(p->c, CURLOPT_NOBODY, 1L);
        if (rq->basic) {
                curl_easy_setopt(p->c, CURLOPT_HTTPAUTH, (long) CURLAUTH_BASIC);
                curl_easy_setopt(p->c, CURLOPT_USERNAME, rq->basic->user);
                curl_easy_setopt(p->c, CURLOPT_PASSWORD, rq->basic->pass);
        }
        rc = transfer(p);
        curl_easy_setopt(p->c, CURLOPT_HTTPHEADER, NULL);
        curl_slist_free_all(h);
        if (rc == CURLE_OK)
                return 0;
        if (rc == CURLE_ABORTED_BY_CALLBACK || p->cancelled)
                return err_set(err, ECANCELED, NULL, "pull cancelled");
        if (a->write_failed) {
                *err = a->werr;
                return -(err->errnum ? err->errnum : EIO);
        }
        if (a->too_big)
                return err_set(err, EFBIG, REG_E_PROTOCOL, "%s: the answer is larger than the %zu bytes allowed", rq->url, a->max);
        if (rc == CURLE_PARTIAL_FILE)
                return err_set(err, EIO, BLOB_E_SIZE, "%s: truncated answer: %s", rq->url, p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));
        return err_set(err, curl_errno(rc), REG_E_UNREACHABLE, "%s: %s", rq->url, p->errbuf[0] ? p->errbuf : curl_easy_strerror(rc));

nomem:
        curl_slist_free_all(h);
        return -ENOMEM;
}

static struct auth_state *auth_state(struct pull *p, const char *host)
{
        struct auth_state *v;

        for (size_t i = 0; i < p->n_auth; i++)
                if (!strcmp(p->auth[i].host, host) && !strcmp(p->auth[i].repo, p->ref->repository))
                        return &p->auth[i];
        if (!(v = realloc(p->auth, (p->n_auth + 1) * sizeof *v)))
                return NULL;
        p->auth = v;
        v = &v[p->n_auth];
        memset(v, 0, sizeof *v);
        v->host = strdup(host);
        v->repo = strdup(p->ref->repository);
        if (!v->host || !v->repo) {
                free(v->host);
                free(v->repo);
                return NULL;
        }
        p->n_auth++;
        return v;
}

/* Credentials for the endpoint: a mirror's are looked up under its own host (the registry's are not
 * sent to a third party), the registry's under its name ("docker.io" for Docker Hub). */
static int load_creds(struct pull *p, const struct reg_endpoint *ep, struct auth_state *as, struct err *err)
{
        int r;

        if (as->creds_loaded)
                return 0;
        if (p->cfg->user && !ep->mirror) {
                if (!(as->creds.user = strdup(p->cfg->user)) || !(as->creds.pass = strdup(p->cfg->pass ? p->cfg->pass : ""))) {
                        reg_creds_done(&as->creds);
                        return err_set(err, ENOMEM, NULL, "out of memory");
                }
                as->creds_loaded = as->have_creds = true;
                return 0;
        }
        r = regauth_lookup(p->cfg->auth_file, ep->mirror ? ep->host : p->ref->registry, &as->creds, err);
        if (r < 0)
                return r;
        as->creds_loaded = true;
        as->have_creds = r > 0;
        return 0;
}

static const char *where(const struct reg_endpoint *ep)
{
        return ep->mirror ? "mirror" : "registry";
}

/* "manifest unknown: manifest unknown (registry 127.0.0.1:5000, HTTP 404)": the registry's error code
 * as words (or what), its message, where. */
static int answer_error(const struct reg_endpoint *ep, const struct answer *a, int errnum, const char *code,
                        const char *prefix, const char *what, struct err *err)
{
        char rcode[64], rmsg[512];

        reg_error_parse(a->errbody.data, a->errbody.len, rcode, sizeof rcode, rmsg, sizeof rmsg);
        for (char *c = rcode; *c; c++)
                *c = *c == '_' ? ' ' : (char) (*c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c);
        return err_set(err, errnum, code, "%s%s%s%s%s (%s %s, HTTP %ld)", prefix ?: "", prefix ? ": " : "", rcode[0] ? rcode : what,
                       rmsg[0] ? ": " : "", rmsg, where(ep), ep->host, a->status);
}

static int fetch_token(struct pull *p, const struct reg_endpoint *ep, struct auth_state *as, const struct reg_challenge *ch,
                       struct err *err)
{
        _cleanup_free_ char *url = NULL, *scope = NULL;
        struct answer a = { .sink = SINK_BUF, .max = TOKEN_MAX };
        char *svc = NULL, *sc = NULL;
        int r;

        if (!ch->realm || (strncmp(ch->realm, "https://", 8) && strncmp(ch->realm, "http://", 7)))
                return err_set(err, EPROTO, REG_E_PROTOCOL, "bearer challenge without an http(s) realm (%s %s)", where(ep), ep->host);
        if ((r = load_creds(p, ep, as, err)) < 0)
                return r;
        /* the scope of a pull, as docker asks for it */
        if (asprintf(&scope, "repository:%s:pull", p->ref->repository) < 0)
                return scope = NULL, -ENOMEM;
        sc = curl_easy_escape(p->c, scope, 0);
        if (ch->service)
                svc = curl_easy_escape(p->c, ch->service, 0);
        if (!sc || (ch->service && !svc) ||
            asprintf(&url, "%s%sscope=%s%s%s", ch->realm, strchr(ch->realm, '?') ? "&" : "?", sc, svc ? "&service=" : "", svc ?: "") < 0) {
                curl_free(sc);
                curl_free(svc);
                return -ENOMEM;
        }
        curl_free(sc);
        curl_free(svc);
        r = perform(p, &(struct req) { .method = "GET", .url = url, .accept = "application/json",
                                       .basic = as->have_creds ? &as->creds : NULL, .verify_tls = ep->verify_tls },
                    &a, err);
        if (r < 0) {
                answer_done(&a);
                return err_wrap(err, "token server");
        }
        if (a.status == 401 || a.status == 403)
                r = answer_error(ep, &a, EACCES, REG_E_DENIED, "access denied", "token server refused", err);
        else if (!is_2xx(a.status))
                r = answer_error(ep, &a, EPROTO, REG_E_PROTOCOL, "token server", "unexpected answer", err);
        else {
                free(as->bearer);
                as->bearer = NULL;
                struct err perr = { 0 };
                r = reg_token_parse(a.body.data ?: "", a.body.len, &as->bearer, &perr);
                if (r < 0)
                        r = err_set(err, EPROTO, REG_E_PROTOCOL, "token server %s: %s", ch->realm, perr.msg);
        }
        answer_done(&a);
        return r;
}

/* A 401: answer the challenge it carries (Bearer: a token; Basic: the credentials). */
static int authenticate(struct pull *p, const struct reg_endpoint *ep, struct auth_state *as, const struct answer *a,
                        struct err *err)
{
        struct reg_challenge best = { 0 };
        int r = 0;

        for (size_t i = 0; i < a->n_challenges; i++) {
                struct reg_challenge c;
                if (reg_challenge_parse(a->challenges[i], &c) < 0)
                        continue;
                if (c.scheme > best.scheme) {
                        reg_challenge_done(&best);
                        best = c;
                } else
                        reg_challenge_done(&c);
        }
        switch (best.scheme) {
        case REGAUTH_BEARER:
                r = fetch_token(p, ep, as, &best, err);
                break;
        case REGAUTH_BASIC:
                if ((r = load_creds(p, ep, as, err)) < 0)
                        break;
                if (!as->have_creds) {
                        _cleanup_free_ char *file = regauth_path(p->cfg->auth_file);
                        r = answer_error(ep, a, EACCES, REG_E_DENIED, "access denied", "authentication required", err);
                        (void) err_wrap(err, "no credentials for '%s' in '%s'", ep->mirror ? ep->host : p->ref->registry,
                                        file ?: "(no auth file)");
                        break;
                }
                as->basic = true;
                break;
        default:
                r = answer_error(ep, a, EACCES, REG_E_DENIED, "access denied", "authentication required without a Basic or Bearer challenge",
                                 err);
        }
        reg_challenge_done(&best);
        return r;
}

/* A request to a registry endpoint with its authentication: on a 401 the challenge is answered
 * once (a token that expired during the pull is renewed the same way) and the request repeated;
 * 401/403 after that is REG_E_DENIED. Other statuses are the caller's. */
static int request(struct pull *p, const struct reg_endpoint *ep, const char *method, const char *url, const char *accept,
                   struct answer *a, struct err *err)
{
        struct auth_state *as = auth_state(p, ep->host);
        bool answered = false;
        int r;

        if (!as)
                return -ENOMEM;
        for (;;) {
                r = perform(p,
                            &(struct req) { .method = method, .url = url, .accept = accept, .bearer = as->bearer,
                                            .basic = as->basic && as->have_creds ? &as->creds : NULL, .verify_tls = ep->verify_tls },
                            a, err);
                if (r < 0)
                        return r;
                if (a->status != 401 || answered)
                        break;
                if ((r = authenticate(p, ep, as, a, err)) < 0)
                        return r;
                answered = true;
        }
        if (a->status == 401 || a->status == 403)
                return answer_error(ep, a, EACCES, REG_E_DENIED, "access denied", a->status == 401 ? "unauthorized" : "denied", err);
        return 0;
}

/* GET a manifest by tag or digest into *ret_buf, its digest verified (by digest: must equal; by tag:
 * the bytes' own, and the Docker-Content-Digest header must agree), stored as a blob. A manifest
 * already in the store (by digest) is read from there. */
static int get_manifest(struct pull *p, const struct reg_endpoint *ep, const char *reference, const char *expected,
                        int64_t expected_size, char **ret_buf, size_t *ret_len, char ret_type[256], char ret_digest[BLOB_DIGEST_MAX],
                        struct err *err)
{
        struct answer a = { .sink = SINK_BUF, .max = MANIFEST_MAX_BYTES };
        _cleanup_free_ char *url = NULL;
        char got[BLOB_DIGEST_MAX];
        int r;

        if (expected && blob_exists(p->root, expected)) {
                r = blob_read(p->root, expected, MANIFEST_MAX_BYTES, ret_buf, ret_len, err);
                if (r >= 0) {
                        ret_type[0] = '\0';
                        snprintf(ret_digest, BLOB_DIGEST_MAX, "%s", expected);
                        return 0;
                }
                (void) blob_remove(p->root, expected);  /* corrupted on disk: fetch it again */
        }
        if (asprintf(&url, "%s/v2/%s/manifests/%s", ep->base, p->ref->repository, reference) < 0)
                return -ENOMEM;
        r = request(p, ep, "GET", url, MANIFEST_ACCEPT, &a, err);
        if (r < 0) {
                answer_done(&a);
                return r == -EFBIG ? err_wrap(err, "manifest %s: larger than %u bytes", reference, MANIFEST_MAX_BYTES) : r;
        }
        if (a.status == 404)
                r = answer_error(ep, &a, ENOENT, REG_E_NOTFOUND, NULL, "manifest unknown", err);
        else if (!is_2xx(a.status))
                r = answer_error(ep, &a, EPROTO, REG_E_PROTOCOL, NULL, "unexpected answer to a manifest request", err);
        if (r < 0)
                goto out;
        blob_digest_buf(a.body.data ?: "", a.body.len, got);
        if (expected && strcmp(expected, got) != 0)
                r = err_set(err, EIO, BLOB_E_DIGEST, "manifest %s: the %s's answer has digest %s (%s %s)", expected, where(ep), got, where(ep),
                            ep->host);
        else if (!expected && !strncmp(a.digest, "sha256:", 7) && strcmp(a.digest, got) != 0)
                r = err_set(err, EIO, BLOB_E_DIGEST, "manifest %s: Docker-Content-Digest says %s, the content has digest %s (%s %s)",
                            reference, a.digest, got, where(ep), ep->host);
        else if (expected_size >= 0 && (int64_t) a.body.len != expected_size)
                r = err_set(err, EIO, BLOB_E_SIZE, "manifest %s: %zu bytes, the index says %lld (%s %s)", got, a.body.len,
                            (long long) expected_size, where(ep), ep->host);
        if (r < 0)
                goto out;
        if ((r = blob_put_buf(p->root, a.body.data ?: "", a.body.len, got, NULL, err)) < 0) {
                r = err_wrap(err, "store manifest %s", got);
                goto out;
        }
        *ret_buf = TAKE_PTR(a.body.data);
        if (!*ret_buf && !(*ret_buf = strdup(""))) {
                r = -ENOMEM;
                goto out;
        }
        *ret_len = a.body.len;
        snprintf(ret_type, 256, "%s", a.content_type);
        memcpy(ret_digest, got, BLOB_DIGEST_MAX);
out:
        answer_done(&a);
        return r;
}

/* A blob into the store unless it is there; another pull writing it meanwhile is waited for. */
static void layer_state(struct pull *p, struct registry_layer_progress *l, enum registry_layer_state st)
{
        if (!l)
                return;
        l->state = st;
        if (st == REG_LAYER_DOWNLOADED || st == REG_LAYER_EXISTS)
                l->bytes_done = l->size;
        report(p, true);
}

/* l: the layer's progress entry, NULL for the configuration. */
static int fetch_blob(struct pull *p, const struct reg_endpoint *ep, const struct descriptor *d, const char *what,
                      struct registry_layer_progress *l, struct err *err)
{
        struct answer a = { .sink = SINK_BLOB };
        _cleanup_free_ char *url = NULL;
        struct blob_writer *w = NULL;
        uint64_t base = p->prog.bytes_done;
        bool fetched;
        int r;

        if (!blob_exists(p->root, d->digest)) {
                if ((r = blob_writer_open(p->root, d->digest, d->size, &w, err)) < 0)
                        return err_wrap(err, "%s %s", what, d->digest);
        }
        fetched = w != NULL;
        if (w) {
                if (asprintf(&url, "%s/v2/%s/blobs/%s", ep->base, p->ref->repository, d->digest) < 0) {
                        blob_writer_free(w);
                        return -ENOMEM;
                }
                a.w = p->cur = w;
                p->cur_layer = l;
                p->blob_base = base;
                layer_state(p, l, REG_LAYER_DOWNLOADING);
                r = request(p, ep, "GET", url, NULL, &a, err);
                p->cur = NULL;
                p->cur_layer = NULL;
                if (r >= 0 && a.status == 404)
                        r = answer_error(ep, &a, ENOENT, BLOB_E_NOTFOUND, NULL, "blob unknown", err);
                else if (r >= 0 && !is_2xx(a.status))
                        r = answer_error(ep, &a, EPROTO, REG_E_PROTOCOL, NULL, "unexpected answer to a blob request", err);
                answer_done(&a);
                if (r < 0) {
                        blob_writer_free(w);
                        return err_wrap(err, "%s %s", what, d->digest);
                }
                if (l)
                        l->bytes_done = (uint64_t) d->size;
                layer_state(p, l, REG_LAYER_VERIFYING);
                if ((r = blob_writer_commit(w, NULL, err)) < 0)
                        return err_wrap(err, "%s %s (%s %s)", what, d->digest, where(ep), ep->host);
        }
        p->prog.bytes_done = p->blob_base = base + (uint64_t) d->size;
        if (l) {
                l->state = fetched ? REG_LAYER_DOWNLOADED : REG_LAYER_EXISTS;
                l->bytes_done = l->size;
        }
        report(p, true);
        return p->cancelled ? err_set(err, ECANCELED, NULL, "pull cancelled") : 0;
}

static int platform_error(const struct manifest *m, const struct platform *host, struct err *err)
{
        char have[512] = "", one[96], want[96];
        size_t off = 0;

        for (size_t i = 0; i < m->n_manifests; i++) {
                const struct platform *pf = &m->manifests[i].platform;
                if (!strcmp(pf->os, "unknown") || !pf->os[0])
                        continue;
                platform_format(pf, one, sizeof one);
                off += (size_t) snprintf(have + off, off < sizeof have ? sizeof have - off : 0, "%s%s", off ? ", " : "", one);
        }
        platform_format(host, want, sizeof want);
        return err_set(err, ENOENT, REG_E_PLATFORM, "no image for %s in the index (it has: %s)", want, have[0] ? have : "none");
}

static int pull_from(struct pull *p, const struct reg_endpoint *ep, struct registry_pull_result *res, struct err *err)
{
        _cleanup_(manifest_freep) struct manifest *m = NULL;
        _cleanup_free_ char *buf = NULL;
        size_t len = 0;
        char type[256], digest[BLOB_DIGEST_MAX];
        const char *reference = p->ref->digest ?: p->ref->tag;
        int r;

        memset(res, 0, sizeof *res);
        memset(&p->prog, 0, sizeof p->prog);
        p->blob_base = 0;
        if ((r = get_manifest(p, ep, reference, p->ref->digest, -1, &buf, &len, type, digest, err)) < 0)
                return r;
        if ((r = manifest_parse(buf, len, type[0] ? type : NULL, &m, err)) < 0) {
                err_default_code(err, REG_E_PROTOCOL);
                return err_wrap(err, "manifest %s (%s %s)", digest, where(ep), ep->host);
        }
        memcpy(res->repo_digest, digest, sizeof digest);
        if (m->kind == MANIFEST_INDEX) {
                struct platform host;
                const struct descriptor *d;
                char want[BLOB_DIGEST_MAX];
                int64_t want_size;

                memcpy(res->index_digest, digest, sizeof digest);
                platform_host(&host);
                if (!(d = manifest_select(m, &host)))
                        return platform_error(m, &host, err);
                memcpy(want, d->digest, sizeof want);   /* d lives in m, freed now */
                want_size = d->size;
                free(TAKE_PTR(buf));
                m = manifest_free(m);
                if ((r = get_manifest(p, ep, want, want, want_size, &buf, &len, type, digest, err)) < 0)
                        return r;
                if ((r = manifest_parse(buf, len, type[0] ? type : NULL, &m, err)) < 0) {
                        err_default_code(err, REG_E_PROTOCOL);
                        return err_wrap(err, "manifest %s (%s %s)", digest, where(ep), ep->host);
                }
                if (m->kind != MANIFEST_IMAGE)
                        return err_set(err, EPROTO, REG_E_PROTOCOL, "manifest %s: an index inside an index (%s %s)", digest, where(ep),
                                       ep->host);
        }
        memcpy(res->manifest_digest, digest, sizeof digest);

        p->prog.bytes_total = (uint64_t) m->config.size;
        for (size_t i = 0; i < m->n_layers; i++)
                p->prog.bytes_total += (uint64_t) m->layers[i].size;
        p->prog.layers_total = (unsigned) m->n_layers;
        p->prog.n_layers = m->n_layers;
        for (size_t i = 0; i < m->n_layers; i++) {
                struct registry_layer_progress *l = &p->prog.layers[i];
                snprintf(l->digest, sizeof l->digest, "%s", m->layers[i].digest);
                l->size = (uint64_t) m->layers[i].size;
                l->bytes_done = 0;
                l->state = REG_LAYER_WAITING;
        }
        report(p, true);
        if (p->cancelled)
                return err_set(err, ECANCELED, NULL, "pull cancelled");
        if ((r = fetch_blob(p, ep, &m->config, "config", NULL, err)) < 0)
                return r;
        for (size_t i = 0; i < m->n_layers; i++) {
                char what[32];
                snprintf(what, sizeof what, "layer %zu", i);
                if ((r = fetch_blob(p, ep, &m->layers[i], what, &p->prog.layers[i], err)) < 0)
                        return r;
                p->prog.layers_done++;
        }
        report(p, true);
        return 0;
}

static bool unreachable(const struct err *e)
{
        return !strcmp(e->code, REG_E_UNREACHABLE);
}

static void pull_done(struct pull *p)
{
        for (size_t i = 0; i < p->n_auth; i++) {
                struct auth_state *a = &p->auth[i];
                free(a->host);
                free(a->repo);
                if (a->bearer)
                        explicit_bzero(a->bearer, strlen(a->bearer));
                free(a->bearer);
                reg_creds_done(&a->creds);
        }
        free(p->auth);
        if (p->c)
                curl_easy_cleanup(p->c);
        if (p->m)
                (void) curl_multi_cleanup(p->m);
}

typedef int (*endpoint_fn)(struct pull *p, const struct reg_endpoint *ep, void *out, struct err *err);

/* Try fn on each endpoint in order, as dockerd does: a mirror that fails in any way gives way to the
 * next endpoint; the registry's HTTPS gives way to its plain HTTP (insecure registries) only when it
 * could not be reached. Errors: the registry's own answer, or REG_E_UNREACHABLE naming every
 * endpoint's cause. The message is prefixed with the image's name. */
static int each_endpoint(struct pull *p, endpoint_fn fn, void *out, struct err *err)
{
        _cleanup_free_ char *name = image_ref_canonical(p->ref);
        struct reg_endpoint *eps = NULL;
        size_t n = 0;
        _cleanup_free_ struct err *errs = NULL;
        int r, last = -1;

        if (!name)
                return -ENOMEM;
        if ((r = reg_endpoints_build(p->cfg, p->ref, &eps, &n, err)) < 0)
                return err_wrap(err, "%s", name);
        if (!(errs = calloc(n, sizeof *errs))) {
                reg_endpoints_free(eps, n);
                return -ENOMEM;
        }
        for (size_t i = 0; i < n; i++) {
                r = fn(p, &eps[i], out, &errs[i]);
                if (r >= 0) {
                        reg_endpoints_free(eps, n);
                        return 0;
                }
                last = (int) i;
                if (r == -ECANCELED || r == -ENOMEM || (!eps[i].mirror && !unreachable(&errs[i])))
                        break;
        }
        if (r == -ECANCELED || r == -ENOMEM || !unreachable(&errs[last])) {
                *err = errs[last];
                if (!err->errnum)
                        err->errnum = -r;
                for (int i = 0; i < last; i++) {
                        /* what the mirrors said before the registry answered */
                        char prev[ERR_MSG_MAX];
                        if (!eps[i].mirror)
                                continue;
                        snprintf(prev, sizeof prev, "%s", err->msg);
                        snprintf(err->msg, sizeof err->msg, "%s; before: %s: %s", prev, eps[i].base, errs[i].msg);
                }
        } else {
                char msg[ERR_MSG_MAX] = "";
                size_t off = 0;
                for (size_t i = 0; i < n; i++) {
                        bool named = !strncmp(errs[i].msg, eps[i].base, strlen(eps[i].base));
                        off += (size_t) snprintf(msg + off, off < sizeof msg ? sizeof msg - off : 0, "%s%s%s%s", i ? "; " : "",
                                                 named ? "" : eps[i].base, named ? "" : ": ", errs[i].msg);
                }
                r = err_set(err, errs[last].errnum, REG_E_UNREACHABLE, "registry unreachable: %s", msg);
        }
        reg_endpoints_free(eps, n);
        return err_wrap(err, "%s", name);
}

static int pull_one(struct pull *p, const struct reg_endpoint *ep, void *out, struct err *err)
{
        return pull_from(p, ep, out, err);
}

static int pull_init(struct pull *p, const struct registry_config *cfg, const struct image_ref *ref, struct err *err)
{
        (void) pthread_once(&curl_once, curl_init);
        if (curl_init_rc != CURLE_OK)
                return err_set(err, EIO, NULL, "libcurl: %s", curl_easy_strerror(curl_init_rc));
        memset(p, 0, sizeof *p);
        p->cfg = cfg;
        p->ref = ref;
        if (!(p->m = multi_new()) || !(p->c = curl_easy_init())) {
                pull_done(p);
                return -ENOMEM;
        }
        return 0;
}

int registry_pull(const struct registry_config *cfg, const struct image_ref *ref, const char *blob_root,
                  registry_progress_fn progress, void *userdata, struct registry_pull_result *ret, struct err *err)
{
        struct registry_pull_result res;
        struct pull p;
        int r;

        if ((r = pull_init(&p, cfg, ref, err)) < 0)
                return r;
        p.root = blob_root;
        p.progress = progress;
        p.userdata = userdata;
        r = each_endpoint(&p, pull_one, &res, err);
        pull_done(&p);
        if (r < 0)
                return r;
        *ret = res;
        return 0;
}

/* HEAD the manifest: Docker-Content-Digest; without it (or when HEAD is not allowed), GET and hash. */
static int resolve_one(struct pull *p, const struct reg_endpoint *ep, void *out, struct err *err)
{
        struct answer a = { .sink = SINK_NONE };
        _cleanup_free_ char *url = NULL;
        char *ret = out;
        int r;

        if (asprintf(&url, "%s/v2/%s/manifests/%s", ep->base, p->ref->repository, p->ref->tag) < 0)
                return -ENOMEM;
        r = request(p, ep, "HEAD", url, MANIFEST_ACCEPT, &a, err);
        if (r >= 0 && a.status == 404)
                r = answer_error(ep, &a, ENOENT, REG_E_NOTFOUND, NULL, "manifest unknown", err);
        else if (r >= 0 && is_2xx(a.status) && image_digest_valid(a.digest))
                snprintf(ret, BLOB_DIGEST_MAX, "%s", a.digest);
        else if (r >= 0) {
                answer_done(&a);
                a = (struct answer) { .sink = SINK_BUF, .max = MANIFEST_MAX_BYTES };
                r = request(p, ep, "GET", url, MANIFEST_ACCEPT, &a, err);
                if (r >= 0 && a.status == 404)
                        r = answer_error(ep, &a, ENOENT, REG_E_NOTFOUND, NULL, "manifest unknown", err);
                else if (r >= 0 && !is_2xx(a.status))
                        r = answer_error(ep, &a, EPROTO, REG_E_PROTOCOL, NULL, "unexpected answer to a manifest request", err);
                else if (r >= 0)
                        blob_digest_buf(a.body.data ?: "", a.body.len, ret);
        }
        answer_done(&a);
        return r;
}

int registry_resolve(const struct registry_config *cfg, const struct image_ref *ref, char ret_digest[BLOB_DIGEST_MAX],
                     struct err *err)
{
        char digest[BLOB_DIGEST_MAX] = "";
        struct pull p;
        int r;

        if (ref->digest) {      /* a digest resolves to itself, as docker pins it */
                snprintf(ret_digest, BLOB_DIGEST_MAX, "%s", ref->digest);
                return 0;
        }
        if ((r = pull_init(&p, cfg, ref, err)) < 0)
                return r;
        r = each_endpoint(&p, resolve_one, digest, err);
        pull_done(&p);
        if (r < 0)
                return r;
        memcpy(ret_digest, digest, sizeof digest);
        return 0;
}
