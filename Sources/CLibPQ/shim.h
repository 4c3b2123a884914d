#ifndef FERRY_CLIBPQ_SHIM_H
#define FERRY_CLIBPQ_SHIM_H
// libpq from Debian's libpq-dev (headers in /usr/include/postgresql, found through pkg-config libpq).
#include <libpq-fe.h>

// The PG_DIAG_* field codes are character-literal macros, which Swift does not import.
static inline int ferry_pq_diag_sqlstate(void) { return PG_DIAG_SQLSTATE; }
static inline int ferry_pq_diag_message_primary(void) { return PG_DIAG_MESSAGE_PRIMARY; }
static inline int ferry_pq_diag_severity(void) { return PG_DIAG_SEVERITY_NONLOCALIZED; }

#endif
