/* ecs.h: what every ECS module shares: the error types of ECS answers and the limits of names and ARNs. */
#pragma once

#define ARN_MAX 640
#define NAME_MAX_ECS 255

/* ECS error types (the __type of an error answer). */
#define E_CLIENT "ClientException"
#define E_PARAM "InvalidParameterException"
#define E_SERIAL "SerializationException"
#define E_CLUSTER_NF "ClusterNotFoundException"
#define E_UNSUPPORTED "UnsupportedFeatureException"
#define E_CONFLICT "ConflictException"
#define E_UNKNOWN_OP "UnknownOperationException"
#define E_SERVER "ServerException"
#define E_TARGET_NF "TargetNotFoundException"
#define E_SVC_NF "ServiceNotFoundException"
#define E_SVC_NA "ServiceNotActiveException"
