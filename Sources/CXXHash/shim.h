#ifndef ESTUARY_CXXHASH_SHIM_H
#define ESTUARY_CXXHASH_SHIM_H
#include <stddef.h>
#include <xxhash.h>
#endif
