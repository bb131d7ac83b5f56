#include "config.h"

#include "keys.h"

#include <stdio.h>
#include <wchar.h>

const char *keys_name(int key, char *buf, size_t len)
{
    static const char *const names[] = {"Up",   "Down", "Left",  "Right", "Home",     "End",
                                        "PgUp", "PgDn", "S-Tab", "Esc",   "Backspace"};
    if (key >= APP_KEY_UP && key <= APP_KEY_BACKSPACE)
        return names[key - APP_KEY_UP];
    if (key == '\t')
        return "Tab";
    if (key == '\n')
        return "Enter";
    if (key == ' ')
        return "Space";
    snprintf(buf, len, "%lc", (wint_t)key);
    return buf;
}
