#ifndef DUBDECK_CEspeak_SHIM_H
#define DUBDECK_CEspeak_SHIM_H
#include <espeak-ng/speak_lib.h>
#endif
