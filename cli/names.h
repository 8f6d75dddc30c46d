/* names.h: aws CLI names to API names ("create-vpc" -> "CreateVpc", "task-definition" -> "taskDefinition"). */
#pragma once

#include <stddef.h>

/* "create-vpc" -> "CreateVpc"; "vpc-ids" -> "VpcIds"; "netns" -> "Netns" (EC2 actions and members). */
void cli_pascal(const char *kebab, char *out, size_t len);
/* "task-definition" -> "taskDefinition" (ECS members). */
void cli_camel(const char *kebab, char *out, size_t len);
