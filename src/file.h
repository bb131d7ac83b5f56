/* file: opening the files a user names, without hanging on a FIFO and without
 * following a planted link or replacing a file by accident. */
#ifndef CONCTUI_FILE_H
#define CONCTUI_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* Open a regular file for reading: a descriptor (blocking, close-on-exec), or
 * -1 with *why set to a translated reason ("is a directory", "not a regular
 * file", or strerror). A FIFO or a device is refused without blocking. */
int file_open_read(const char *path, const char **why);

/* Create a regular file for writing (0666 less the umask): O_EXCL and
 * O_NOFOLLOW, so an existing file or a link is never written through. With
 * force an existing regular file (not a link) is truncated and reused.
 * A descriptor, or -1 with *why set; errno is EEXIST when the file exists. */
int file_create(const char *path, bool force, const char **why);

/* The directory the running program is in, into buf; NULL when /proc does not say. */
const char *file_exe_dir(char *buf, size_t len);
/* True when the running program is the installed one (it runs from BINDIR). */
bool file_installed(void);
/* The examples (examples/README): CONCTUI_EXAMPLES when set, the installed
 * ones, or the source tree's when the program runs from its build tree. */
const char *file_examples_dir(void);

/* True when path names the same file (device and inode) as st. */
bool file_same(const char *path, const struct stat *st);

#endif
