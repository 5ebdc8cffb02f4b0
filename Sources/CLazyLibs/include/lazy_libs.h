#ifndef DUBDECK_LAZY_LIBS_H
#define DUBDECK_LAZY_LIBS_H
/* libespeak-ng and libpq are opened when first needed (dlopen), not at start: together they bring
 * 44 more shared objects (PulseAudio, X11, Kerberos, LDAP, GnuTLS, ...) that every command would
 * otherwise map and relocate before main — most of the start-up time of `dubdeck`. The wrappers
 * have the libraries' own signatures; call dd_*_load() first (NULL: loaded, else why not). */
#include <espeak-ng/speak_lib.h>
#include <postgresql/libpq-fe.h>

const char *dd_espeak_load(void);
int dd_espeak_Initialize(espeak_AUDIO_OUTPUT output, int buflength, const char *path, int options);
void dd_espeak_SetSynthCallback(t_espeak_callback *callback);
espeak_ERROR dd_espeak_SetVoiceByName(const char *name);
espeak_ERROR dd_espeak_SetParameter(espeak_PARAMETER parameter, int value, int relative);
espeak_ERROR dd_espeak_Synth(const void *text, size_t size, unsigned int position, espeak_POSITION_TYPE position_type,
                             unsigned int end_position, unsigned int flags, unsigned int *unique_identifier, void *user_data);
espeak_ERROR dd_espeak_Synchronize(void);
const espeak_VOICE **dd_espeak_ListVoices(espeak_VOICE *voice_spec);

const char *dd_pq_load(void);
PGconn *dd_PQconnectdb(const char *conninfo);
ConnStatusType dd_PQstatus(const PGconn *conn);
char *dd_PQerrorMessage(const PGconn *conn);
void dd_PQfinish(PGconn *conn);
PQnoticeProcessor dd_PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg);
PGresult *dd_PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues,
                          const int *paramLengths, const int *paramFormats, int resultFormat);
ExecStatusType dd_PQresultStatus(const PGresult *res);
char *dd_PQresultErrorField(const PGresult *res, int fieldcode);
char *dd_PQresultErrorMessage(const PGresult *res);
void dd_PQclear(PGresult *res);
int dd_PQntuples(const PGresult *res);
int dd_PQnfields(const PGresult *res);
int dd_PQgetisnull(const PGresult *res, int tup_num, int field_num);
char *dd_PQgetvalue(const PGresult *res, int tup_num, int field_num);
int dd_PQgetlength(const PGresult *res, int tup_num, int field_num);
#endif
