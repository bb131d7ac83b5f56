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
extern const struct scene_entry scene_reactor;
extern const struct scene_entry scene_executor;

#endif
