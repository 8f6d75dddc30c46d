/* cluster_req.c: the cluster members CreateCluster, UpdateCluster and UpdateClusterSettings take,
 * checked (pure): settings, configuration (executeCommandConfiguration, managedStorageConfiguration)
 * and serviceConnectDefaults. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ecsbox/json.h"
#include "../front/req.h"
#include "arn.h"
#include "cluster.h"

int cluster_settings_check(json_t *settings, struct err *err)
{
        json_t *s;
        size_t i;
        json_array_foreach(settings, i, s) {
                char p[32];
                const char *name = NULL, *value = NULL;
                int r;
                snprintf(p, sizeof p, "settings[%zu]", i);
                if (!json_is_object(s))
                        return err_set(err, EINVAL, E_SERIAL, "Invalid type for parameter %s: expected a structure", p);
                if ((r = req_str(s, p, "name", true, &name, err)) < 0 || (r = req_str(s, p, "value", true, &value, err)) < 0)
                        return r;
                if (strcmp(name, "containerInsights") != 0)
                        return err_set(err, EINVAL, E_PARAM, "Invalid cluster setting name '%.64s' (%s.name): expected containerInsights.",
                                       name, p);
                if (strcmp(value, "enabled") != 0 && strcmp(value, "disabled") != 0 && strcmp(value, "enhanced") != 0)
                        return err_set(err, EINVAL, E_PARAM,
                                       "Invalid value '%.64s' for the containerInsights cluster setting (%s.value): expected enabled, disabled or enhanced.",
                                       value, p);
        }
        return 0;
}

static int exec_config_check(json_t *ecc, struct err *err)
{
        static const char *const keys[] = { "kmsKeyId", "logging", "logConfiguration", NULL };
        static const char *const log_keys[] = { "cloudWatchLogGroupName", "cloudWatchEncryptionEnabled", "s3BucketName",
                                                "s3EncryptionEnabled", "s3KeyPrefix", NULL };
        const char *logging = "DEFAULT", *s = NULL;
        json_t *lc = NULL;
        bool b;
        int r;
        if ((r = req_check_keys(ecc, keys, err)) < 0 ||
            (r = req_str(ecc, "configuration.executeCommandConfiguration", "kmsKeyId", false, &s, err)) < 0 ||
            (r = req_str(ecc, "configuration.executeCommandConfiguration", "logging", false, &logging, err)) < 0 ||
            (r = req_object(ecc, "configuration.executeCommandConfiguration", "logConfiguration", false, &lc, err)) < 0)
                return r;
        if (strcmp(logging, "NONE") != 0 && strcmp(logging, "DEFAULT") != 0 && strcmp(logging, "OVERRIDE") != 0)
                return err_set(err, EINVAL, E_PARAM,
                               "Invalid value '%.64s' for configuration.executeCommandConfiguration.logging: expected NONE, DEFAULT or OVERRIDE.",
                               logging);
        if (strcmp(logging, "OVERRIDE") == 0 && !lc)
                return err_set(err, EINVAL, E_PARAM,
                               "The logConfiguration parameter is required when logging is set to OVERRIDE in executeCommandConfiguration.");
        if (lc && strcmp(logging, "OVERRIDE") != 0)
                return err_set(err, EINVAL, E_PARAM,
                               "The logConfiguration parameter can only be specified when logging is set to OVERRIDE in executeCommandConfiguration.");
        if (lc) {
                const char *path = "configuration.executeCommandConfiguration.logConfiguration";
                if ((r = req_check_keys(lc, log_keys, err)) < 0 || (r = req_str(lc, path, "cloudWatchLogGroupName", false, &s, err)) < 0 ||
                    (r = req_str(lc, path, "s3BucketName", false, &s, err)) < 0 || (r = req_str(lc, path, "s3KeyPrefix", false, &s, err)) < 0 ||
                    (r = req_bool(lc, path, "cloudWatchEncryptionEnabled", false, &b, err)) < 0 ||
                    (r = req_bool(lc, path, "s3EncryptionEnabled", false, &b, err)) < 0)
                        return r;
        }
        return 0;
}

int cluster_configuration_check(json_t *conf, struct err *err)
{
        static const char *const keys[] = { "executeCommandConfiguration", "managedStorageConfiguration", NULL };
        static const char *const ms_keys[] = { "kmsKeyId", "fargateEphemeralStorageKmsKeyId", NULL };
        json_t *ecc = NULL, *ms = NULL;
        const char *s = NULL;
        int r;
        if (!conf)
                return 0;
        if ((r = req_check_keys(conf, keys, err)) < 0 ||
            (r = req_object(conf, "configuration", "executeCommandConfiguration", false, &ecc, err)) < 0 ||
            (r = req_object(conf, "configuration", "managedStorageConfiguration", false, &ms, err)) < 0)
                return r;
        if (ecc && (r = exec_config_check(ecc, err)) < 0)
                return r;
        if (ms && ((r = req_check_keys(ms, ms_keys, err)) < 0 ||
                   (r = req_str(ms, "configuration.managedStorageConfiguration", "kmsKeyId", false, &s, err)) < 0 ||
                   (r = req_str(ms, "configuration.managedStorageConfiguration", "fargateEphemeralStorageKmsKeyId", false, &s, err)) < 0))
                return r;
        return 0;
}

/* A Cloud Map namespace name: 1-1024 characters, none of - ~ > < / (ECS's rule). */
static bool namespace_name_valid(const char *s)
{
        size_t n = strlen(s);
        return n >= 1 && n <= 1024 && !strpbrk(s, "-~></");
}

int update_cluster_decode(json_t *req, bool settings_only, struct update_cluster_in *ret, struct err *err)
{
        static const char *const keys[] = { "cluster", "settings", "configuration", "serviceConnectDefaults", NULL };
        static const char *const settings_keys[] = { "cluster", "settings", NULL };
        struct update_cluster_in in = { 0 };
        json_t *scd = NULL;
        int r;
        if ((r = req_check_keys(req, settings_only ? settings_keys : keys, err)) < 0 ||
            (r = req_str(req, NULL, "cluster", true, &in.cluster, err)) < 0 ||
            (r = req_array(req, NULL, "settings", settings_only, &in.settings, err)) < 0 ||
            (r = cluster_settings_check(in.settings, err)) < 0)
                return r;
        if (!settings_only) {
                if ((r = req_object(req, NULL, "configuration", false, &in.configuration, err)) < 0 ||
                    (r = cluster_configuration_check(in.configuration, err)) < 0 ||
                    (r = req_object(req, NULL, "serviceConnectDefaults", false, &scd, err)) < 0)
                        return r;
                if (scd) {
                        static const char *const scd_keys[] = { "namespace", NULL };
                        if ((r = req_check_keys(scd, scd_keys, err)) < 0 ||
                            (r = req_str(scd, "serviceConnectDefaults", "namespace", true, &in.namespace, err)) < 0)
                                return r;
                        if (*in.namespace && strncmp(in.namespace, "arn:", 4) != 0 && !namespace_name_valid(in.namespace))
                                return err_set(err, EINVAL, E_PARAM,
                                               "Invalid serviceConnectDefaults.namespace '%.200s': a name of up to 1024 characters without - ~ > < or /, or a namespace ARN.",
                                               in.namespace);
                        if (strncmp(in.namespace, "arn:", 4) == 0 &&
                            (strncmp(in.namespace, "arn:aws:servicediscovery:", 25) != 0 || !strstr(in.namespace, ":namespace/")))
                                return err_set(err, EINVAL, E_PARAM,
                                               "Invalid serviceConnectDefaults.namespace '%.200s': not a Cloud Map namespace ARN.", in.namespace);
                }
        }
        *ret = in;
        return 0;
}
