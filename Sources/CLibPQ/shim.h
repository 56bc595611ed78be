#ifndef ESTUARY_CLIBPQ_SHIM_H
#define ESTUARY_CLIBPQ_SHIM_H
// libpq, the PostgreSQL client library (Debian libpq-dev), for the PostgreSQL index engine.
#include <libpq-fe.h>
#endif
