/* The scene tables, one per file in scenes/; listed in scenes/registry.c. */
#ifndef CONCTUI_SCENES_H
#define CONCTUI_SCENES_H

#include "scene.h"

extern const struct scene_entry scene_postoffice;
extern const struct scene_entry scene_prodcons;
extern const struct scene_entry scene_gil;
extern const struct scene_entry scene_race;
extern const struct scene_entry scene_deadlock;
extern const struct scene_entry scene_evloop;
extern const struct scene_entry scene_raymarch;
extern const struct scene_entry scene_parsum;
extern const struct scene_entry scene_taskqueue;

/* The task queue broker's authentication, for its tests: SipHash-2-4 and the HELLO proof. */
uint64_t taskqueue_siphash(const uint8_t key[16], const void *data, size_t len);
uint64_t taskqueue_proof(const uint8_t key[16], uint64_t n0, uint64_t n1, int role, int slot);
/* The running scene's broker port and secret (the scene's own process only); 0 or -1. */
int taskqueue_credentials(struct scene_ctx *ctx, uint16_t *port, uint8_t key[16]);
extern const struct scene_entry scene_reactor;
extern const struct scene_entry scene_executor;

#endif
