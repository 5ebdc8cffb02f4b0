#ifndef DUBDECK_CCRYPTO_SHIM_H
#define DUBDECK_CCRYPTO_SHIM_H
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/err.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#endif
