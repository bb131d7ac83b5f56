/* keys: codes for keys that are not characters, shared by the UI, the app and scenes. */
#ifndef CONCTUI_KEYS_H
#define CONCTUI_KEYS_H

#include <stddef.h>

/* Keys that are not characters, in a space above Unicode. */
enum app_key {
    APP_KEY_UP = 0x110000,
    APP_KEY_DOWN,
    APP_KEY_LEFT,
    APP_KEY_RIGHT,
    APP_KEY_HOME,
    APP_KEY_END,
    APP_KEY_PGUP,
    APP_KEY_PGDN,
    APP_KEY_BTAB,
    APP_KEY_ESC,
    APP_KEY_BACKSPACE,
};

/* A key's name for help texts: "Left", "Tab", "x". */
const char *keys_name(int key, char *buf, size_t len);

#endif
