#ifndef DUBDECK_CSndfile_SHIM_H
#define DUBDECK_CSndfile_SHIM_H
#include <sndfile.h>
#endif
