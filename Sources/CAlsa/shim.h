#ifndef DUBDECK_CAlsa_SHIM_H
#define DUBDECK_CAlsa_SHIM_H
#include <alsa/asoundlib.h>
#endif
