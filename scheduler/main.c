/* main.c: ecsboxd: options, privileges, start-up (state, default cluster, recovery) and the
 * sd-event loop with its HTTP servers; the loop's own work is loop.c's. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <systemd/sd-event.h>
#include <unistd.h>

#include "tmds/tmds.h"
#include "ecsbox/cleanup.h"
#include "ecsbox/log.h"
#include "ecsbox/fsutil.h"
#include "ecs/cluster.h"
#include "ecs/lifecycle.h"
#include "front/auth.h"
#include "front/http.h"
#include "images/images.h"
#include "imgsvc/jobs.h"
#include "logs/logs.h"
#include "loop.h"
#include "netd_client.h"
#include "sched.h"

/* Capabilities ecsboxd keeps for itself: what it and the monitors it spawns use.
 * (A monitor is exec'ed as uid 0, so it gets the bounding set anew; see below.) */
static const cap_value_t keep_caps[] = {
        CAP_SYS_ADMIN,  CAP_SETUID,          CAP_SETGID,   CAP_SYS_CHROOT, CAP_KILL,      CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
        CAP_FOWNER,     CAP_CHOWN,           CAP_FSETID,   CAP_MKNOD,      CAP_SETPCAP,   CAP_SETFCAP,      CAP_SYS_RESOURCE,
        CAP_NET_BIND_SERVICE, CAP_AUDIT_WRITE, CAP_SYS_PTRACE,
};

/* Dropped from the bounding set: nothing ecsbox runs may ever hold them, even a task
 * whose definition adds them (the monitor cannot grant what the bounding set lacks).
 * NET_ADMIN, NET_RAW and SYS_ADMIN stay so that a task definition can add them. */
static const cap_value_t never_caps[] = {
        CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_BOOT, CAP_SYS_TIME, CAP_MAC_ADMIN, CAP_MAC_OVERRIDE, CAP_SYSLOG, CAP_WAKE_ALARM,
        CAP_BLOCK_SUSPEND, CAP_AUDIT_CONTROL, CAP_LINUX_IMMUTABLE, CAP_SYS_PACCT, CAP_SYS_TTY_CONFIG,
#ifdef CAP_AUDIT_READ
        CAP_AUDIT_READ,
#endif
#ifdef CAP_BPF
        CAP_BPF, CAP_PERFMON, CAP_CHECKPOINT_RESTORE,
#endif
};

static int drop_privileges(struct err *err)
{
        cap_value_t kept[ELEMENTSOF(keep_caps)];
        cap_t caps, cur;
        int n = 0;
        for (size_t i = 0; i < ELEMENTSOF(never_caps); i++)
                if (prctl(PR_CAPBSET_DROP, never_caps[i], 0, 0, 0) < 0 && errno != EINVAL)
                        return err_set(err, errno, NULL, "drop capability %d from the bounding set: %s", (int) never_caps[i], strerror(errno));
        cur = cap_get_proc();
        caps = cap_init();
        if (!caps || !cur) {
                int e = errno;
                cap_free(caps);
                cap_free(cur);
                return err_set(err, e, NULL, "cap_init: %s", strerror(e));
        }
        /* Keep what we have of keep_caps: a container may run us without some of them. */
        for (size_t i = 0; i < ELEMENTSOF(keep_caps); i++) {
                cap_flag_value_t v = CAP_CLEAR;
                if (cap_get_flag(cur, keep_caps[i], CAP_PERMITTED, &v) == 0 && v == CAP_SET)
                        kept[n++] = keep_caps[i];
        }
        if ((n > 0 && (cap_set_flag(caps, CAP_PERMITTED, n, kept, CAP_SET) < 0 ||
                       cap_set_flag(caps, CAP_EFFECTIVE, n, kept, CAP_SET) < 0)) ||
            cap_set_proc(caps) < 0) {
                int e = errno;
                cap_free(caps);
                cap_free(cur);
                return err_set(err, e, NULL, "set capabilities: %s", strerror(e));
        }
        cap_free(caps);
        cap_free(cur);
        return 0;
}

static int on_signal(sd_event_source *es, const struct signalfd_siginfo *si, void *userdata)
{
        log_info("msg=\"stopping; running tasks keep running\" signal=%d", (int) si->ssi_signo);
        return sd_event_exit(sd_event_source_get_event(es), 0);
}

static void usage(FILE *f)
{
        fprintf(f, "Usage: ecsboxd [OPTIONS]\n"
                   "The ecsbox control plane: the Amazon ECS API (JSON 1.1) over HTTP.\n\n"
                   "  --state-dir DIR     durable state (default /var/lib/ecsbox)\n"
                   "  --run-dir DIR       runtime files; DIR/ecsboxd.sock serves the API (default /run/ecsbox)\n"
                   "  --listen IP:PORT    TCP address of the API (default 127.0.0.1:5080)\n"
                   "  --netd-socket PATH  ecsbox-netd's socket (default RUNDIR/netd.sock)\n"
                   "  --image-store DIR   the image store: blobs, layers, names (default STATE/images)\n"
                   "  --registry-mirror URL     Docker Hub pulls try URL first (repeatable, as dockerd)\n"
                   "  --insecure-registry HOST:PORT  plain HTTP or unverified TLS for it (repeatable)\n"
                   "  --registry-auth-file FILE  a Docker config.json (default $DOCKER_CONFIG/config.json,\n"
                   "                      else ~/.docker/config.json)\n"
                   "  --image-pull-behavior default|always|once|prefer-cached  as ECS_IMAGE_PULL_BEHAVIOR\n"
                   "                      (default: that variable, else default)\n"
                   "  --monitor PATH      the task monitor binary (default: ecsbox-monitor beside ecsboxd)\n"
                   "  --region NAME       region for ARNs when a request names none (default us-east-1)\n"
                   "  --account-id ID     12-digit account id for ARNs (default 000000000000)\n"
                   "  --stopped-retention SECONDS  how long STOPPED tasks stay describable (default 3600)\n"
                   "  --logs-max-bytes BYTES       cap on the CloudWatch Logs events kept, oldest dropped first (default 1 GiB)\n"
                   "  --credentials FILE  the API keys, shared-credentials format (default STATE/credentials)\n"
                   "  --task-role-credentials FILE  keys handed to tasks for their taskRoleArn: profiles named\n"
                   "                      by role ARN or role name (default STATE/task-role-credentials)\n"
                   "  --log-level LEVEL   error, warning, notice, info (default) or debug\n"
                   "  -h, --help          this text\n");
}

static void default_monitor(char *buf, size_t size)
{
        char self[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        char *slash;
        if (n <= 0) {
                snprintf(buf, size, "/usr/local/sbin/ecsbox-monitor");
                return;
        }
        self[n] = '\0';
        slash = strrchr(self, '/');
        if (slash)
                *slash = '\0';
        snprintf(buf, size, "%s/ecsbox-monitor", self);
}

#define MAX_REGISTRY_OPTS 16

struct options {
        struct sched_options o;
        const char *mirrors[MAX_REGISTRY_OPTS + 1];
        size_t n_mirrors;
        const char *insecure[MAX_REGISTRY_OPTS + 1];
        size_t n_insecure;
        const char *auth_file;
        enum pull_policy policy;
        const char *listen_addr;
        const char *credentials;        /* NULL: STATE_DIR/credentials */
        const char *task_role_creds;    /* NULL: STATE_DIR/task-role-credentials */
        double retention;
        long long logs_max_bytes;       /* --logs-max-bytes */
        char monitor[SCHED_PATH_MAX];
};

static int pull_policy_parse(const char *v, enum pull_policy *ret)
{
        static const struct {
                const char *name;
                enum pull_policy p;
        } t[] = { { "default", PULL_DEFAULT }, { "always", PULL_ALWAYS }, { "once", PULL_ONCE }, { "prefer-cached", PULL_PREFER_CACHED } };
        for (size_t i = 0; i < ELEMENTSOF(t); i++)
                if (strcmp(v, t[i].name) == 0) {
                        *ret = t[i].p;
                        return 0;
                }
        return -EINVAL;
}

/* Returns -1 to go on, else the exit status. */
static int parse_options(int argc, char **argv, struct options *opt)
{
        static const struct option opts[] = {
                { "state-dir", required_argument, NULL, 's' },   { "run-dir", required_argument, NULL, 'r' },
                { "listen", required_argument, NULL, 'L' },      { "netd-socket", required_argument, NULL, 'n' },
                { "image-store", required_argument, NULL, 'i' }, { "monitor", required_argument, NULL, 'm' },
                { "region", required_argument, NULL, 'R' },      { "account-id", required_argument, NULL, 'a' },
                { "log-level", required_argument, NULL, 'l' },   { "stopped-retention", required_argument, NULL, 'S' },
                { "logs-max-bytes", required_argument, NULL, 'B' },
                { "credentials", required_argument, NULL, 'C' }, { "help", no_argument, NULL, 'h' },
                { "task-role-credentials", required_argument, NULL, 'T' },
                { "registry-mirror", required_argument, NULL, 'M' }, { "insecure-registry", required_argument, NULL, 'I' },
                { "registry-auth-file", required_argument, NULL, 'A' }, { "image-pull-behavior", required_argument, NULL, 'P' },
                { 0 },
        };
        struct sched_options *o = &opt->o;
        const char *env = getenv("ECS_IMAGE_PULL_BEHAVIOR");
        int c;
        if (env && *env && pull_policy_parse(env, &opt->policy) < 0) {
                fprintf(stderr, "ecsboxd: ECS_IMAGE_PULL_BEHAVIOR must be default, always, once or prefer-cached, got '%s'\n", env);
                return 2;
        }
        while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
                switch (c) {
                case 's': o->state_dir = optarg; break;
                case 'r': o->run_dir = optarg; break;
                case 'L': opt->listen_addr = optarg; break;
                case 'C': opt->credentials = optarg; break;
                case 'T': opt->task_role_creds = optarg; break;
                case 'n': o->netd_sock = optarg; break;
                case 'i': o->image_store = optarg; break;
                case 'm': o->monitor_bin = optarg; break;
                case 'R': o->region = optarg; break;
                case 'a':
                        if (strlen(optarg) != 12 || strspn(optarg, "0123456789") != 12) {
                                fprintf(stderr, "ecsboxd: --account-id must be 12 digits, got '%s'\n", optarg);
                                return 2;
                        }
                        o->account = optarg;
                        break;
                case 'S': {
                        char *end;
                        opt->retention = strtod(optarg, &end);
                        if (*end || opt->retention < 1) {
                                fprintf(stderr, "ecsboxd: --stopped-retention must be a number of seconds >= 1, got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                }
                case 'B': {
                        char *end;
                        errno = 0;
                        opt->logs_max_bytes = strtoll(optarg, &end, 10);
                        if (*end || errno || opt->logs_max_bytes < 1) {
                                fprintf(stderr, "ecsboxd: --logs-max-bytes must be a number of bytes >= 1, got '%s'\n", optarg);
                                return 2;
                        }
                        break;
                }
                case 'l': {
                        int lvl = log_parse_level(optarg);
                        if (lvl < 0) {
                                fprintf(stderr, "ecsboxd: unknown log level '%s'\n", optarg);
                                return 2;
                        }
                        log_set_max_level(lvl);
                        break;
                }
                case 'M':
                        if (opt->n_mirrors == MAX_REGISTRY_OPTS ||
                            (strncmp(optarg, "http://", 7) != 0 && strncmp(optarg, "https://", 8) != 0)) {
                                fprintf(stderr, "ecsboxd: --registry-mirror wants an http:// or https:// URL (at most %d), got '%s'\n",
                                        MAX_REGISTRY_OPTS, optarg);
                                return 2;
                        }
                        opt->mirrors[opt->n_mirrors++] = optarg;
                        break;
                case 'I':
                        if (opt->n_insecure == MAX_REGISTRY_OPTS || !optarg[0] || strchr(optarg, '/')) {
                                fprintf(stderr, "ecsboxd: --insecure-registry wants HOST[:PORT] (at most %d), got '%s'\n",
                                        MAX_REGISTRY_OPTS, optarg);
                                return 2;
                        }
                        opt->insecure[opt->n_insecure++] = optarg;
                        break;
                case 'A': opt->auth_file = optarg; break;
                case 'P':
                        if (pull_policy_parse(optarg, &opt->policy) < 0) {
                                fprintf(stderr, "ecsboxd: --image-pull-behavior must be default, always, once or prefer-cached, got '%s'\n",
                                        optarg);
                                return 2;
                        }
                        break;
                case 'h': usage(stdout); return 0;
                default: usage(stderr); return 2;
                }
        }
        if (optind < argc) {
                fprintf(stderr, "ecsboxd: unexpected argument '%s'\n", argv[optind]);
                return 2;
        }
        if (!o->state_dir[0]) {
                fprintf(stderr, "ecsboxd: --state-dir must not be empty\n");
                return 2;
        }
        return -1;
}

/* SIGTERM/SIGINT end the loop; SIGCHLD is the loop's (loop.c). */
static int signals_setup(sd_event *ev, struct err *err)
{
        sigset_t mask;
        int r;
        sigemptyset(&mask);
        sigaddset(&mask, SIGTERM);
        sigaddset(&mask, SIGINT);
        sigaddset(&mask, SIGCHLD);
        sigprocmask(SIG_BLOCK, &mask, NULL);
        signal(SIGPIPE, SIG_IGN);
        if ((r = sd_event_add_signal(ev, NULL, SIGTERM, on_signal, NULL)) < 0 ||
            (r = sd_event_add_signal(ev, NULL, SIGINT, on_signal, NULL)) < 0)
                return err_set(err, -r, NULL, "event loop set-up: %s", strerror(-r));
        return 0;
}

/* The image store (what a crash left is removed at open) and the worker jobs' eventfd. Docker Hub's
 * mirrors are tried in order before registry-1.docker.io, as dockerd's registry-mirrors. */
static struct registry_mirror hub_mirror;

static int images_start(struct sched *s, struct options *opt, sd_event *ev, struct err *err)
{
        struct images_options io = { .root = s->image_store, .policy = opt->policy };
        int r;
        if (opt->n_mirrors) {
                hub_mirror = (struct registry_mirror) { .registry = "docker.io", .endpoints = opt->mirrors };
                io.registry.mirrors = &hub_mirror;
                io.registry.n_mirrors = 1;
        }
        io.registry.insecure = opt->n_insecure ? opt->insecure : NULL;
        io.registry.auth_file = opt->auth_file;
        if ((r = images_open(&io, &s->images, err)) < 0)
                return r;
        s->pull_policy = (int) opt->policy;
        if ((r = img_jobs_new(s, (struct sd_event *) ev, &s->img_jobs, err)) < 0)
                return r;
        log_info("msg=\"image store open\" root=%s mirrors=%zu insecure=%zu pull_behavior=%d", s->image_store, opt->n_mirrors,
                 opt->n_insecure, (int) opt->policy);
        return 0;
}

/* State, loop, recovery: everything before the API is served. */
static int startup(struct sched *s, struct options *opt, sd_event **ret_ev, struct err *err)
{
        sd_event *ev = NULL;
        int r;
        if ((r = sched_init(s, &opt->o, err)) < 0 || (r = cluster_ensure_default(s, err)) < 0)
                return err_wrap(err, "start-up");
        if ((r = sd_event_new(&ev)) < 0)
                return err_set(err, -r, NULL, "event loop set-up: %s", strerror(-r));
        *ret_ev = ev;
        if ((r = images_start(s, opt, ev, err)) < 0)
                return err_wrap(err, "start-up: image store '%s'", s->image_store);
        if ((r = logs_open(s, opt->logs_max_bytes, err)) < 0)
                return err_wrap(err, "start-up: logs store");
        if ((r = signals_setup(ev, err)) < 0 || (r = loop_init(s, (struct sd_event *) ev, err)) < 0)
                return r;
        /* Best effort: netd may start after us; the tick keeps trying. */
        if (netd_ensure_defaults(s, err) < 0) {
                log_warning("msg=\"default VPC not known yet, will retry\" err=\"%s\"", err->msg);
                err_clear(err);
        }
        /* Repair before serving: a client that connects sees settled state. */
        if ((r = tasks_recover(s, err)) < 0)
                return err_wrap(err, "recovery");
        return loop_start(s, err);
}

int main(int argc, char **argv)
{
        struct options opt = { .o = { .state_dir = "/var/lib/ecsbox", .run_dir = "/run/ecsbox" },
                               .listen_addr = "127.0.0.1:5080", .retention = 3600,
                               .logs_max_bytes = LOGS_MAX_BYTES_DEFAULT };
        struct sched s = { .netd_call = netd_socket_call, .notify_fd = -1 };
        char api_sock[SCHED_PATH_MAX + 32] = "";
        struct http_server *tcp = NULL, *unx = NULL;
        char cred_path[SCHED_PATH_MAX + 32];
        struct auth auth = { .creds = { 0 } };
        struct err err = { 0 };
        sd_event *ev = NULL;
        int r, rc = 1;

        log_set_ident("ecsboxd");
        default_monitor(opt.monitor, sizeof opt.monitor);
        opt.o.monitor_bin = opt.monitor;
        if ((r = parse_options(argc, argv, &opt)) >= 0)
                return r;
        if (geteuid() != 0) {
                fprintf(stderr, "ecsboxd: must run as root (it launches task monitors that create namespaces)\n");
                return 1;
        }
        {
                struct rlimit rl = { 65536, 65536 };
                (void) setrlimit(RLIMIT_NOFILE, &rl);
        }
        s.stopped_retention = opt.retention;
        if ((r = mkdir_p(opt.o.run_dir, 0755)) < 0) {
                log_error_errno(r, "msg=\"cannot create the run directory\" run_dir=%s", opt.o.run_dir);
                return 1;
        }
        if (startup(&s, &opt, &ev, &err) < 0) {
                log_error("msg=\"start-up failed\" err=\"%s\"", err.msg);
                goto out;
        }
        if (opt.task_role_creds)
                snprintf(s.task_role_credentials, sizeof s.task_role_credentials, "%s", opt.task_role_creds);
        snprintf(cred_path, sizeof cred_path, "%s", opt.credentials ? opt.credentials : "");
        if (!opt.credentials)
                snprintf(cred_path, sizeof cred_path, "%s/credentials", s.state_dir);
        if (auth_open(&auth, cred_path, &err) < 0) {
                log_error("msg=\"start-up failed: the API keys\" err=\"%s\"", err.msg);
                goto out;
        }
        s.auth = &auth;
        snprintf(api_sock, sizeof api_sock, "%s/ecsboxd.sock", s.run_dir);
        if (http_start_tcp(&s, ev, opt.listen_addr, &tcp, &err) < 0 || http_start_unix(&s, ev, api_sock, &unx, &err) < 0) {
                log_error("msg=\"start-up failed\" err=\"%s\"", err.msg);
                goto out;
        }
        (void) tmds_recover(&s);
        if (drop_privileges(&err) < 0) {
                log_error("msg=\"cannot drop privileges\" err=\"%s\"", err.msg);
                goto out;
        }
        log_info("msg=\"ready\" listen=%s socket=%s state=%s monitor=%s netd=%s credentials=%s", opt.listen_addr, api_sock,
                 s.state_dir, s.monitor_bin, s.netd_sock, cred_path);
        r = sd_event_loop(ev);
        rc = r < 0 ? 1 : 0;
out:
        tcp = http_server_free(tcp);
        unx = http_server_free(unx);
        if (unx == NULL && api_sock[0] && rc == 0)
                (void) unlink(api_sock);
        loop_done(&s);
        /* workers first (they are cancelled and joined), then the store they used */
        s.img_jobs = img_jobs_free(s.img_jobs);
        s.images = images_close(s.images);
        sd_event_unref(ev);
        logs_close(&s);
        sched_done(&s);
        auth_close(&auth);
        return rc;
}
