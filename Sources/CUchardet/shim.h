#ifndef DUBDECK_CUCHARDET_SHIM_H
#define DUBDECK_CUCHARDET_SHIM_H
#include <uchardet/uchardet.h>
#endif
