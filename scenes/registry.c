#include "config.h"

#include "scenes/scenes.h"

/* Every scene, in teaching order; adding a scene is one line here. */
/* clang-format off */
const struct scene_entry *const scene_table[] = {
    &scene_postoffice,
    &scene_prodcons,
    &scene_executor,
    &scene_taskqueue,
    &scene_evloop,
    &scene_reactor,
    &scene_gil,
    &scene_race,
    &scene_deadlock,
    &scene_parsum,
    &scene_raymarch,
    NULL,
};
/* clang-format on */
