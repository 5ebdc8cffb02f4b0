#ifndef DUBDECK_CSoxr_SHIM_H
#define DUBDECK_CSoxr_SHIM_H
#include <soxr.h>
#endif
