#ifndef DUBDECK_LAZY_LIBS_H
#define DUBDECK_LAZY_LIBS_H
/* The C libraries a command may not need are opened when first needed (dlopen), not at start:
 * libespeak-ng and libpq (44 more shared objects: PulseAudio, X11, Kerberos, LDAP, GnuTLS, ...),
 * libsndfile (with FLAC, Vorbis, Opus, Ogg, mpg123, LAME), librubberband and libuchardet (with
 * the C++ runtime), libsoxr (with OpenMP) and ALSA — objects that every command would otherwise
 * map and relocate before main, most of the start-up time of `dubdeck`. The wrappers have the
 * libraries' own signatures; call dd_<lib>_load(soname) first with the name the build found
 * (Sonames.swift; NULL: loaded, else why not). A wrapper
 * called without its library loaded stops the process with that reason (a programming error). */
#include <espeak-ng/speak_lib.h>
#include <postgresql/libpq-fe.h>
#include <sndfile.h>
#include <soxr.h>
#include <rubberband/rubberband-c.h>
#include <alsa/asoundlib.h>
#include <uchardet/uchardet.h>
#include <stddef.h>
#include <stdint.h>

const char *dd_espeak_load(const char *soname);
int dd_espeak_Initialize(espeak_AUDIO_OUTPUT output, int buflength, const char *path, int options);
void dd_espeak_SetSynthCallback(t_espeak_callback *callback);
espeak_ERROR dd_espeak_SetVoiceByName(const char *name);
espeak_ERROR dd_espeak_SetParameter(espeak_PARAMETER parameter, int value, int relative);
espeak_ERROR dd_espeak_Synth(const void *text, size_t size, unsigned int position, espeak_POSITION_TYPE position_type,
                             unsigned int end_position, unsigned int flags, unsigned int *unique_identifier, void *user_data);
espeak_ERROR dd_espeak_Synchronize(void);
const espeak_VOICE **dd_espeak_ListVoices(espeak_VOICE *voice_spec);

const char *dd_pq_load(const char *soname);
PGconn *dd_PQconnectdb(const char *conninfo);
PGconn *dd_PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname);
PQconninfoOption *dd_PQconninfoParse(const char *conninfo, char **errmsg);
void dd_PQconninfoFree(PQconninfoOption *connOptions);
void dd_PQfreemem(void *ptr);
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

const char *dd_sndfile_load(const char *soname);
SNDFILE *dd_sf_open(const char *path, int mode, SF_INFO *info);
SNDFILE *dd_sf_open_fd(int fd, int mode, SF_INFO *info, int close_desc);
const char *dd_sf_strerror(SNDFILE *sndfile);
int dd_sf_close(SNDFILE *sndfile);
int dd_sf_command(SNDFILE *sndfile, int command, void *data, int datasize);
sf_count_t dd_sf_seek(SNDFILE *sndfile, sf_count_t frames, int whence);
sf_count_t dd_sf_readf_float(SNDFILE *sndfile, float *ptr, sf_count_t frames);
sf_count_t dd_sf_readf_short(SNDFILE *sndfile, short *ptr, sf_count_t frames);
sf_count_t dd_sf_writef_short(SNDFILE *sndfile, const short *ptr, sf_count_t frames);

const char *dd_soxr_load(const char *soname);
soxr_io_spec_t dd_soxr_io_spec(soxr_datatype_t itype, soxr_datatype_t otype);
soxr_quality_spec_t dd_soxr_quality_spec(unsigned long recipe, unsigned long flags);
soxr_error_t dd_soxr_oneshot(double input_rate, double output_rate, unsigned num_channels, soxr_in_t in, size_t ilen, size_t *idone,
                             soxr_out_t out, size_t olen, size_t *odone, soxr_io_spec_t const *io, soxr_quality_spec_t const *q,
                             soxr_runtime_spec_t const *rt);

const char *dd_rubberband_load(const char *soname);
RubberBandState dd_rubberband_new(unsigned int sampleRate, unsigned int channels, RubberBandOptions options, double initialTimeRatio,
                                  double initialPitchScale);
void dd_rubberband_delete(RubberBandState state);
void dd_rubberband_set_expected_input_duration(RubberBandState state, unsigned int samples);
void dd_rubberband_study(RubberBandState state, const float *const *input, unsigned int samples, int final);
void dd_rubberband_process(RubberBandState state, const float *const *input, unsigned int samples, int final);
int dd_rubberband_available(const RubberBandState state);
unsigned int dd_rubberband_retrieve(const RubberBandState state, float *const *output, unsigned int samples);

const char *dd_alsa_load(const char *soname);
int dd_snd_pcm_open(snd_pcm_t **pcm, const char *name, snd_pcm_stream_t stream, int mode);
int dd_snd_pcm_set_params(snd_pcm_t *pcm, snd_pcm_format_t format, snd_pcm_access_t access, unsigned int channels, unsigned int rate,
                          int soft_resample, unsigned int latency);
snd_pcm_sframes_t dd_snd_pcm_writei(snd_pcm_t *pcm, const void *buffer, snd_pcm_uframes_t size);
int dd_snd_pcm_recover(snd_pcm_t *pcm, int err, int silent);
int dd_snd_pcm_drop(snd_pcm_t *pcm);
int dd_snd_pcm_drain(snd_pcm_t *pcm);
int dd_snd_pcm_close(snd_pcm_t *pcm);
const char *dd_snd_strerror(int errnum);
int dd_snd_lib_error_set_handler(snd_lib_error_handler_t handler);

const char *dd_uchardet_load(const char *soname);
uchardet_t dd_uchardet_new(void);
void dd_uchardet_delete(uchardet_t ud);
int dd_uchardet_handle_data(uchardet_t ud, const char *data, size_t len);
void dd_uchardet_data_end(uchardet_t ud);
const char *dd_uchardet_get_charset(uchardet_t ud);

/* WebRTC's voice activity detector (libwebrtc-audio-processing): mode 0–3, 10/20/30 ms frames of
 * 16-bit audio at 8/16/32/48 kHz; Process says 1 (speech), 0 (none) or -1 (bad frame). */
typedef struct WebRtcVadInst VadInst;
const char *dd_webrtc_load(const char *soname);
VadInst *dd_WebRtcVad_Create(void);
void dd_WebRtcVad_Free(VadInst *handle);
int dd_WebRtcVad_Init(VadInst *handle);
int dd_WebRtcVad_set_mode(VadInst *handle, int mode);
int dd_WebRtcVad_Process(VadInst *handle, int fs, const int16_t *audio_frame, size_t frame_length);
/* Its noise suppressor: policy 0–3 (mild … very aggressive), 10 ms frames of one band (16 kHz:
 * 160 samples) as floats at 16-bit scale; Analyze before Process, frame by frame. */
typedef struct NsHandleT NsHandle;
NsHandle *dd_WebRtcNs_Create(void);
void dd_WebRtcNs_Free(NsHandle *handle);
int dd_WebRtcNs_Init(NsHandle *handle, uint32_t fs);
int dd_WebRtcNs_set_policy(NsHandle *handle, int mode);
void dd_WebRtcNs_Analyze(NsHandle *handle, const float *frame);
void dd_WebRtcNs_Process(NsHandle *handle, const float *const *frame, size_t bands, float *const *out);
/* libxml2 (TTML subtitles). Its headers need the compiler's -I/usr/include/libxml2, so they stay in
 * lazy_libs.c and Swift sees this small read-only tree API instead: a document parsed from memory
 * (no network, no DTD: a DOCTYPE stops the parse and is refused; entity references never expanded),
 * its nodes and attributes walked in order. Pointers live as long as their document. */
typedef struct dd_xml_doc dd_xml_doc;
typedef struct dd_xml_node dd_xml_node;
typedef struct dd_xml_attr dd_xml_attr;
const char *dd_xml2_load(const char *soname);
/* NULL when the bytes are not a well-formed XML document: `error` then holds libxml2's message and
 * `line` the line it names (0 when none). `bytes` are UTF-8 whatever the declaration says. */
dd_xml_doc *dd_xml_read(const char *bytes, int size, int *line, char *error, size_t error_size);
void dd_xml_free(dd_xml_doc *doc);
const dd_xml_node *dd_xml_root(const dd_xml_doc *doc);
/* 1: element, 2: text (CDATA included), 0: anything else (comments, processing instructions). */
int dd_xml_kind(const dd_xml_node *node);
const dd_xml_node *dd_xml_first_child(const dd_xml_node *node);
const dd_xml_node *dd_xml_next(const dd_xml_node *node);
const char *dd_xml_name(const dd_xml_node *node);
/* The element's namespace URI, NULL when none. */
const char *dd_xml_namespace(const dd_xml_node *node);
/* A text node's characters. */
const char *dd_xml_text(const dd_xml_node *node);
long dd_xml_line(const dd_xml_node *node);
const dd_xml_attr *dd_xml_first_attribute(const dd_xml_node *node);
const dd_xml_attr *dd_xml_next_attribute(const dd_xml_attr *attr);
const char *dd_xml_attribute_name(const dd_xml_attr *attr);
const char *dd_xml_attribute_namespace(const dd_xml_attr *attr);
/* The value as text nodes (usually one; walk them with dd_xml_next, read them with dd_xml_text). */
const dd_xml_node *dd_xml_attribute_value(const dd_xml_attr *attr);
#endif
