/* task_images.h: a PENDING task's images: pull, merge into the containers, lease (task_images.c). */
#pragma once

#include <jansson.h>

struct adv;

#define SCHED_MAX_IMAGES 64     /* a task's containers, at most */

/* 1: the images are ready (ebx.images recorded, leased), 0: a pull is running (the task is kicked
 * when it ends), -1: the task failed to start (CannotPullContainerError, recorded). */
int task_images_step(struct adv *a);
/* The monitor spec's containers (a copy of the definitions): the images' configuration merged,
 * rootfs.lowerdirs and the image's canonical name set. */
void task_images_apply(struct adv *a, json_t *containers);
/* The task is STOPPED or about to be: its pull cancelled, its lease dropped. */
void task_images_release(struct adv *a);
