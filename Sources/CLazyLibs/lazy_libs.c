#include "lazy_libs.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

struct lib {
    const char *soname;
    void *handle;
    char error[512];
    pthread_once_t once;
};

static struct lib espeak = {"libespeak-ng.so.1", NULL, "", PTHREAD_ONCE_INIT};
static struct lib pq = {"libpq.so.5", NULL, "", PTHREAD_ONCE_INIT};

static void open_lib(struct lib *l) {
    l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!l->handle) {
        const char *e = dlerror();
        snprintf(l->error, sizeof l->error, "%s cannot be loaded (%s)", l->soname, e ? e : "unknown error");
    }
}
static void open_espeak(void) { open_lib(&espeak); }
static void open_pq(void) { open_lib(&pq); }

const char *dd_espeak_load(void) { pthread_once(&espeak.once, open_espeak); return espeak.handle ? NULL : espeak.error; }
const char *dd_pq_load(void) { pthread_once(&pq.once, open_pq); return pq.handle ? NULL : pq.error; }

/* Each wrapper looks its symbol up once (a pointer-sized store: a race only repeats the lookup). */
#define CALL(lib, name, ...) \
    static __typeof__(name) *fn = NULL; \
    if (!fn) fn = (__typeof__(name) *)dlsym(lib.handle, #name); \
    return fn(__VA_ARGS__)

int dd_espeak_Initialize(espeak_AUDIO_OUTPUT o, int b, const char *p, int opt) { CALL(espeak, espeak_Initialize, o, b, p, opt); }
void dd_espeak_SetSynthCallback(t_espeak_callback *cb) { CALL(espeak, espeak_SetSynthCallback, cb); }
espeak_ERROR dd_espeak_SetVoiceByName(const char *name) { CALL(espeak, espeak_SetVoiceByName, name); }
espeak_ERROR dd_espeak_SetParameter(espeak_PARAMETER p, int v, int r) { CALL(espeak, espeak_SetParameter, p, v, r); }
espeak_ERROR dd_espeak_Synth(const void *t, size_t s, unsigned int pos, espeak_POSITION_TYPE pt, unsigned int end, unsigned int flags,
                             unsigned int *uid, void *ud) { CALL(espeak, espeak_Synth, t, s, pos, pt, end, flags, uid, ud); }
espeak_ERROR dd_espeak_Synchronize(void) { CALL(espeak, espeak_Synchronize); }
const espeak_VOICE **dd_espeak_ListVoices(espeak_VOICE *spec) { CALL(espeak, espeak_ListVoices, spec); }

PGconn *dd_PQconnectdb(const char *c) { CALL(pq, PQconnectdb, c); }
ConnStatusType dd_PQstatus(const PGconn *c) { CALL(pq, PQstatus, c); }
char *dd_PQerrorMessage(const PGconn *c) { CALL(pq, PQerrorMessage, c); }
void dd_PQfinish(PGconn *c) { CALL(pq, PQfinish, c); }
PQnoticeProcessor dd_PQsetNoticeProcessor(PGconn *c, PQnoticeProcessor p, void *a) { CALL(pq, PQsetNoticeProcessor, c, p, a); }
PGresult *dd_PQexecParams(PGconn *c, const char *cmd, int n, const Oid *types, const char *const *values, const int *lengths,
                          const int *formats, int rf) { CALL(pq, PQexecParams, c, cmd, n, types, values, lengths, formats, rf); }
ExecStatusType dd_PQresultStatus(const PGresult *r) { CALL(pq, PQresultStatus, r); }
char *dd_PQresultErrorField(const PGresult *r, int f) { CALL(pq, PQresultErrorField, r, f); }
char *dd_PQresultErrorMessage(const PGresult *r) { CALL(pq, PQresultErrorMessage, r); }
void dd_PQclear(PGresult *r) { CALL(pq, PQclear, r); }
int dd_PQntuples(const PGresult *r) { CALL(pq, PQntuples, r); }
int dd_PQnfields(const PGresult *r) { CALL(pq, PQnfields, r); }
int dd_PQgetisnull(const PGresult *r, int t, int f) { CALL(pq, PQgetisnull, r, t, f); }
char *dd_PQgetvalue(const PGresult *r, int t, int f) { CALL(pq, PQgetvalue, r, t, f); }
int dd_PQgetlength(const PGresult *r, int t, int f) { CALL(pq, PQgetlength, r, t, f); }
