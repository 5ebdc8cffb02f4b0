#ifndef DUBDECK_CRubberband_SHIM_H
#define DUBDECK_CRubberband_SHIM_H
#include <rubberband/rubberband-c.h>
#endif
