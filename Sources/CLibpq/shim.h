#ifndef DUBDECK_CLibpq_SHIM_H
#define DUBDECK_CLibpq_SHIM_H
#include <postgresql/libpq-fe.h>
#endif
