#ifndef DUBDECK_CLibpq_SHIM_H
#define DUBDECK_CLibpq_SHIM_H
#include <libpq-fe.h>
#endif
