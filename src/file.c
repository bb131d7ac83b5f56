#include "config.h"

#include "file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "i18n.h"

/* Check that fd is a regular file and make it blocking again; fd or -1. */
static int regular(int fd, const char **why)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        *why = strerror(e);
        close(fd);
        errno = e;
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        *why = S_ISDIR(st.st_mode) ? _("is a directory") : _("not a regular file");
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    return fd;
}

int file_open_read(const char *path, const char **why)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        *why = errno == EISDIR ? _("is a directory") : strerror(errno);
        return -1;
    }
    return regular(fd, why);
}

int file_create(const char *path, bool force, const char **why)
{
    int fl = O_WRONLY | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY;
    int fd = open(path, fl | O_EXCL, 0666);
    if (fd < 0 && errno == EEXIST && force)
        fd = open(path, fl, 0666);
    if (fd < 0) {
        int e = errno;
        struct stat st;
        if (e == EEXIST && lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
            *why = _("is a directory");
        else if (e == EEXIST && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            *why = _("is a symbolic link");
        else if (e == EEXIST && lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
            *why = _("not a regular file");
        else if (e == EEXIST)
            *why = _("the file exists (--force overwrites it)");
        else if (e == ELOOP)
            *why = _("is a symbolic link");
        else if (e == EISDIR)
            *why = _("is a directory");
        else if (e == ENXIO)
            *why = _("not a regular file");
        else
            *why = strerror(e);
        errno = e;
        return -1;
    }
    fd = regular(fd, why);
    if (fd >= 0 && force && ftruncate(fd, 0) != 0) {
        int e = errno;
        *why = strerror(e);
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

const char *file_exe_dir(char *buf, size_t len)
{
    ssize_t n = readlink("/proc/self/exe", buf, len - 1);
    char *slash = n > 0 ? memrchr(buf, '/', (size_t)n) : NULL;
    if (!slash)
        return NULL;
    *slash = '\0';
    return buf;
}

bool file_installed(void)
{
    char exe[PATH_MAX], bin[PATH_MAX];
    if (!file_exe_dir(exe, sizeof exe))
        return true;
    return strcmp(exe, realpath(BINDIR, bin) ? bin : BINDIR) == 0;
}

const char *file_examples_dir(void)
{
    const char *dir = getenv("CONCTUI_EXAMPLES");
    if (dir && *dir)
        return dir;
    return file_installed() ? EXAMPLESDIR : SRC_EXAMPLESDIR;
}

bool file_same(const char *path, const struct stat *st)
{
    struct stat o;
    return stat(path, &o) == 0 && o.st_dev == st->st_dev && o.st_ino == st->st_ino;
}
