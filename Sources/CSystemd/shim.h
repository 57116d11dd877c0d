#ifndef KVSERVICE_CSYSTEMD_SHIM_H
#define KVSERVICE_CSYSTEMD_SHIM_H

/* Location fields are added by the Swift handler itself. */
#define SD_JOURNAL_SUPPRESS_LOCATION 1
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>
#include <sys/uio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stdlib.h>

#endif
