#include "lazy_libs.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
/* libxml2's headers only here (they need -I/usr/include/libxml2): lazy_libs.h shows Swift a small tree API. */
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

/* WebRTC's voice activity detector. Debian's libwebrtc-audio-processing (0.3) exports its C functions
 * but installs no header for them (only the C++ AudioProcessing API): these are their signatures, as
 * in that version's common_audio/vad/include/webrtc_vad.h (the detector the GE2E reference and
 * py-webrtcvad use). Looked up by name like every symbol here; a test checks the decisions. */
VadInst *WebRtcVad_Create(void);
void WebRtcVad_Free(VadInst *handle);
int WebRtcVad_Init(VadInst *handle);
int WebRtcVad_set_mode(VadInst *handle, int mode);
int WebRtcVad_Process(VadInst *handle, int fs, const int16_t *audio_frame, size_t frame_length);
/* And its noise suppressor's (modules/audio_processing/ns/noise_suppression.h of that version). */
NsHandle *WebRtcNs_Create(void);
void WebRtcNs_Free(NsHandle *handle);
int WebRtcNs_Init(NsHandle *handle, uint32_t fs);
int WebRtcNs_set_policy(NsHandle *handle, int mode);
void WebRtcNs_Analyze(NsHandle *handle, const float *frame);
void WebRtcNs_Process(NsHandle *handle, const float *const *frame, size_t bands, float *const *out);

struct lib {
    const char *name;
    char soname[128];
    /* Every symbol its wrappers below call: all looked up when the library is loaded, so a library
     * that lacks one is refused then, with a clear error, never at the call (a test checks the lists
     * against the wrappers). */
    const char *const *symbols;
    void *handle;
    char error[512];
    pthread_mutex_t lock;
    int tried;
};

#define SYMBOLS(var, ...) static const char *const var##_symbols[] = {__VA_ARGS__, NULL};
SYMBOLS(espeak, "espeak_Initialize", "espeak_ListVoices", "espeak_SetParameter", "espeak_SetSynthCallback", "espeak_SetVoiceByName",
        "espeak_Synchronize", "espeak_Synth")
SYMBOLS(pq, "PQclear", "PQconnectdb", "PQconnectdbParams", "PQconninfoFree", "PQconninfoParse", "PQerrorMessage", "PQexecParams",
        "PQfinish", "PQfreemem", "PQgetisnull", "PQgetlength", "PQgetvalue", "PQnfields", "PQntuples", "PQresultErrorField",
        "PQresultErrorMessage", "PQresultStatus", "PQsetNoticeProcessor", "PQstatus")
SYMBOLS(sndfile, "sf_close", "sf_command", "sf_open", "sf_open_fd", "sf_readf_float", "sf_readf_short", "sf_seek", "sf_strerror",
        "sf_writef_short")
SYMBOLS(soxr, "soxr_io_spec", "soxr_oneshot", "soxr_quality_spec")
SYMBOLS(rubberband, "rubberband_available", "rubberband_delete", "rubberband_new", "rubberband_process", "rubberband_retrieve",
        "rubberband_set_expected_input_duration", "rubberband_study")
SYMBOLS(alsa, "snd_lib_error_set_handler", "snd_pcm_close", "snd_pcm_drain", "snd_pcm_drop", "snd_pcm_open", "snd_pcm_recover",
        "snd_pcm_set_params", "snd_pcm_writei", "snd_strerror")
SYMBOLS(uchardet, "uchardet_data_end", "uchardet_delete", "uchardet_get_charset", "uchardet_handle_data", "uchardet_new")
SYMBOLS(webrtc, "WebRtcNs_Analyze", "WebRtcNs_Create", "WebRtcNs_Free", "WebRtcNs_Init", "WebRtcNs_Process", "WebRtcNs_set_policy",
        "WebRtcVad_Create", "WebRtcVad_Free", "WebRtcVad_Init", "WebRtcVad_Process", "WebRtcVad_set_mode")
SYMBOLS(xml2, "xmlCtxtGetLastError", "xmlCtxtReadMemory", "xmlFreeDoc", "xmlFreeParserCtxt", "xmlGetLineNo", "xmlNewParserCtxt", "xmlStopParser")

/* The shared object's name comes from the build (dd_<lib>_load's argument: Sonames.swift, which
 * the build writes from pkg-config and the library's ELF SONAME), never from this file. */
#define LIB(var) static struct lib var = {#var, "", var##_symbols, NULL, "", PTHREAD_MUTEX_INITIALIZER, 0}
LIB(espeak);
LIB(pq);
LIB(sndfile);
LIB(soxr);
LIB(rubberband);
LIB(alsa);
LIB(uchardet);
LIB(xml2);
LIB(webrtc);

static void open_lib(struct lib *l) {
    if (!l->soname[0]) {
        snprintf(l->error, sizeof l->error, "%s: no shared object named by the build", l->name);
        return;
    }
    l->handle = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
    if (!l->handle) {
        const char *e = dlerror();
        snprintf(l->error, sizeof l->error, "%s cannot be loaded (%s)", l->soname, e ? e : "unknown error");
        return;
    }
    for (const char *const *s = l->symbols; *s; s++) {
        if (!dlsym(l->handle, *s)) {
            snprintf(l->error, sizeof l->error, "%s has no %s (another version than this dubdeck was built for?)", l->soname, *s);
            dlclose(l->handle);
            l->handle = NULL;
            return;
        }
    }
}

/* dd_<name>_load(soname): opens the library once (the first caller's name counts); NULL when it
 * is there, else why not. */
static const char *load(struct lib *l, const char *soname) {
    pthread_mutex_lock(&l->lock);
    if (!l->tried) {
        if (soname) snprintf(l->soname, sizeof l->soname, "%s", soname);
        open_lib(l);
        l->tried = 1;
    }
    pthread_mutex_unlock(&l->lock);
    return l->handle ? NULL : l->error;
}

#define LOADER(var) \
    const char *dd_##var##_load(const char *soname) { return load(&var, soname); }
LOADER(espeak)
LOADER(pq)
LOADER(sndfile)
LOADER(soxr)
LOADER(rubberband)
LOADER(alsa)
LOADER(uchardet)
LOADER(xml2)
LOADER(webrtc)

/* A symbol of a loaded library (all were checked at load); a wrapper called before its library
 * was loaded is a bug in dubdeck: stop. */
static void *need(struct lib *l, const char *symbol) {
    void *f = l->handle ? dlsym(l->handle, symbol) : NULL;
    if (!f) {
        fprintf(stderr, "dubdeck: %s: %s is not available (%s)\n", l->soname, symbol, l->handle ? "no such symbol" : "library not loaded");
        abort();
    }
    return f;
}

/* Each wrapper looks its symbol up once (a pointer-sized store: a race only repeats the lookup). */
#define CALL(lib, name, ...) \
    static __typeof__(name) *fn = NULL; \
    if (!fn) fn = (__typeof__(name) *)need(&lib, #name); \
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
PGconn *dd_PQconnectdbParams(const char *const *k, const char *const *v, int expand) { CALL(pq, PQconnectdbParams, k, v, expand); }
PQconninfoOption *dd_PQconninfoParse(const char *c, char **err) { CALL(pq, PQconninfoParse, c, err); }
void dd_PQconninfoFree(PQconninfoOption *o) { CALL(pq, PQconninfoFree, o); }
void dd_PQfreemem(void *p) { CALL(pq, PQfreemem, p); }
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

SNDFILE *dd_sf_open(const char *path, int mode, SF_INFO *info) { CALL(sndfile, sf_open, path, mode, info); }
SNDFILE *dd_sf_open_fd(int fd, int mode, SF_INFO *info, int close_desc) { CALL(sndfile, sf_open_fd, fd, mode, info, close_desc); }
const char *dd_sf_strerror(SNDFILE *s) { CALL(sndfile, sf_strerror, s); }
int dd_sf_close(SNDFILE *s) { CALL(sndfile, sf_close, s); }
int dd_sf_command(SNDFILE *s, int command, void *data, int size) { CALL(sndfile, sf_command, s, command, data, size); }
sf_count_t dd_sf_seek(SNDFILE *s, sf_count_t frames, int whence) { CALL(sndfile, sf_seek, s, frames, whence); }
sf_count_t dd_sf_readf_float(SNDFILE *s, float *p, sf_count_t frames) { CALL(sndfile, sf_readf_float, s, p, frames); }
sf_count_t dd_sf_readf_short(SNDFILE *s, short *p, sf_count_t frames) { CALL(sndfile, sf_readf_short, s, p, frames); }
sf_count_t dd_sf_writef_short(SNDFILE *s, const short *p, sf_count_t frames) { CALL(sndfile, sf_writef_short, s, p, frames); }

soxr_io_spec_t dd_soxr_io_spec(soxr_datatype_t i, soxr_datatype_t o) { CALL(soxr, soxr_io_spec, i, o); }
soxr_quality_spec_t dd_soxr_quality_spec(unsigned long recipe, unsigned long flags) { CALL(soxr, soxr_quality_spec, recipe, flags); }
soxr_error_t dd_soxr_oneshot(double ir, double or, unsigned ch, soxr_in_t in, size_t ilen, size_t *idone, soxr_out_t out, size_t olen,
                             size_t *odone, soxr_io_spec_t const *io, soxr_quality_spec_t const *q, soxr_runtime_spec_t const *rt) {
    CALL(soxr, soxr_oneshot, ir, or, ch, in, ilen, idone, out, olen, odone, io, q, rt);
}

RubberBandState dd_rubberband_new(unsigned int rate, unsigned int ch, RubberBandOptions o, double ratio, double pitch) {
    CALL(rubberband, rubberband_new, rate, ch, o, ratio, pitch);
}
void dd_rubberband_delete(RubberBandState s) { CALL(rubberband, rubberband_delete, s); }
void dd_rubberband_set_expected_input_duration(RubberBandState s, unsigned int n) { CALL(rubberband, rubberband_set_expected_input_duration, s, n); }
void dd_rubberband_study(RubberBandState s, const float *const *in, unsigned int n, int f) { CALL(rubberband, rubberband_study, s, in, n, f); }
void dd_rubberband_process(RubberBandState s, const float *const *in, unsigned int n, int f) { CALL(rubberband, rubberband_process, s, in, n, f); }
int dd_rubberband_available(const RubberBandState s) { CALL(rubberband, rubberband_available, s); }
unsigned int dd_rubberband_retrieve(const RubberBandState s, float *const *out, unsigned int n) { CALL(rubberband, rubberband_retrieve, s, out, n); }

int dd_snd_pcm_open(snd_pcm_t **pcm, const char *name, snd_pcm_stream_t stream, int mode) { CALL(alsa, snd_pcm_open, pcm, name, stream, mode); }
int dd_snd_pcm_set_params(snd_pcm_t *pcm, snd_pcm_format_t format, snd_pcm_access_t access, unsigned int channels, unsigned int rate,
                          int soft_resample, unsigned int latency) {
    CALL(alsa, snd_pcm_set_params, pcm, format, access, channels, rate, soft_resample, latency);
}
snd_pcm_sframes_t dd_snd_pcm_writei(snd_pcm_t *pcm, const void *b, snd_pcm_uframes_t n) { CALL(alsa, snd_pcm_writei, pcm, b, n); }
int dd_snd_pcm_recover(snd_pcm_t *pcm, int err, int silent) { CALL(alsa, snd_pcm_recover, pcm, err, silent); }
int dd_snd_pcm_drop(snd_pcm_t *pcm) { CALL(alsa, snd_pcm_drop, pcm); }
int dd_snd_pcm_drain(snd_pcm_t *pcm) { CALL(alsa, snd_pcm_drain, pcm); }
int dd_snd_pcm_close(snd_pcm_t *pcm) { CALL(alsa, snd_pcm_close, pcm); }
const char *dd_snd_strerror(int e) { CALL(alsa, snd_strerror, e); }
int dd_snd_lib_error_set_handler(snd_lib_error_handler_t h) { CALL(alsa, snd_lib_error_set_handler, h); }

uchardet_t dd_uchardet_new(void) { CALL(uchardet, uchardet_new); }
void dd_uchardet_delete(uchardet_t u) { CALL(uchardet, uchardet_delete, u); }
int dd_uchardet_handle_data(uchardet_t u, const char *d, size_t n) { CALL(uchardet, uchardet_handle_data, u, d, n); }
void dd_uchardet_data_end(uchardet_t u) { CALL(uchardet, uchardet_data_end, u); }
const char *dd_uchardet_get_charset(uchardet_t u) { CALL(uchardet, uchardet_get_charset, u); }

VadInst *dd_WebRtcVad_Create(void) { CALL(webrtc, WebRtcVad_Create); }
void dd_WebRtcVad_Free(VadInst *h) { CALL(webrtc, WebRtcVad_Free, h); }
int dd_WebRtcVad_Init(VadInst *h) { CALL(webrtc, WebRtcVad_Init, h); }
int dd_WebRtcVad_set_mode(VadInst *h, int mode) { CALL(webrtc, WebRtcVad_set_mode, h, mode); }
int dd_WebRtcVad_Process(VadInst *h, int fs, const int16_t *frame, size_t n) { CALL(webrtc, WebRtcVad_Process, h, fs, frame, n); }
NsHandle *dd_WebRtcNs_Create(void) { CALL(webrtc, WebRtcNs_Create); }
void dd_WebRtcNs_Free(NsHandle *h) { CALL(webrtc, WebRtcNs_Free, h); }
int dd_WebRtcNs_Init(NsHandle *h, uint32_t fs) { CALL(webrtc, WebRtcNs_Init, h, fs); }
int dd_WebRtcNs_set_policy(NsHandle *h, int mode) { CALL(webrtc, WebRtcNs_set_policy, h, mode); }
void dd_WebRtcNs_Analyze(NsHandle *h, const float *frame) { CALL(webrtc, WebRtcNs_Analyze, h, frame); }
void dd_WebRtcNs_Process(NsHandle *h, const float *const *frame, size_t bands, float *const *out) { CALL(webrtc, WebRtcNs_Process, h, frame, bands, out); }

static xmlParserCtxtPtr dd_xmlNewParserCtxt(void) { CALL(xml2, xmlNewParserCtxt); }
static void dd_xmlFreeParserCtxt(xmlParserCtxtPtr c) { CALL(xml2, xmlFreeParserCtxt, c); }
static xmlDocPtr dd_xmlCtxtReadMemory(xmlParserCtxtPtr c, const char *b, int n, const char *url, const char *enc, int options) {
    CALL(xml2, xmlCtxtReadMemory, c, b, n, url, enc, options);
}
static xmlErrorPtr dd_xmlCtxtGetLastError(void *c) { CALL(xml2, xmlCtxtGetLastError, c); }
static void dd_xmlStopParser(xmlParserCtxtPtr c) { CALL(xml2, xmlStopParser, c); }
void dd_xml_free(dd_xml_doc *d) { CALL(xml2, xmlFreeDoc, (xmlDocPtr)d); }

/* What a parse found, in the context's _private: a DOCTYPE, and libxml2's first error (the cause;
 * the errors after it are consequences). */
struct parse_notes {
    int doctype;
    int line;
    char first[400];
};

/* A document type declaration: TTML has none, and a DTD is where entity bombs and external
 * entities live. The parse stops at its first byte; dd_xml_read refuses the document. */
static void refuse_doctype(void *ctx, const xmlChar *name, const xmlChar *external, const xmlChar *system) {
    (void)name; (void)external; (void)system;
    xmlParserCtxtPtr c = ctx;
    struct parse_notes *notes = c->_private;
    notes->doctype = 1;
    notes->line = c->input ? c->input->line : 0;
    dd_xmlStopParser(c);
}

/* Errors are noted (the first one), never printed by libxml2. */
static void note_error(void *ctx, xmlErrorPtr error) {
    xmlParserCtxtPtr c = ctx;
    struct parse_notes *notes = c ? c->_private : NULL;
    if (!notes || notes->first[0] || !error || !error->message || error->level < XML_ERR_ERROR) return;
    snprintf(notes->first, sizeof notes->first, "%s", error->message);
    size_t n = strlen(notes->first);
    while (n > 0 && (notes->first[n - 1] == '\n' || notes->first[n - 1] == ' ')) notes->first[--n] = 0;
    notes->line = error->line;
}

dd_xml_doc *dd_xml_read(const char *bytes, int size, int *line, char *error, size_t error_size) {
    *line = 0;
    if (error_size) error[0] = 0;
    xmlParserCtxtPtr c = dd_xmlNewParserCtxt();
    if (!c) {
        snprintf(error, error_size, "out of memory");
        return NULL;
    }
    struct parse_notes notes = {0, 0, ""};
    c->sax->internalSubset = refuse_doctype;
    c->sax->serror = note_error;
    c->_private = &notes;
    /* No network, no messages; never XML_PARSE_NOENT, XML_PARSE_DTDLOAD or XML_PARSE_HUGE (libxml2's
     * limits on depth and sizes stay). CDATA is text. */
    int options = XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA | XML_PARSE_BIG_LINES;
    xmlDocPtr doc = dd_xmlCtxtReadMemory(c, bytes, size, NULL, "UTF-8", options);
    if (notes.doctype || !doc || !c->wellFormed || !c->nsWellFormed) {
        if (notes.doctype) {
            snprintf(error, error_size, "a DOCTYPE (document type declaration) is not read: TTML has none");
        } else if (notes.first[0]) {
            snprintf(error, error_size, "not well-formed XML: %s", notes.first);
        } else {
            xmlErrorPtr e = dd_xmlCtxtGetLastError(c);
            snprintf(error, error_size, "not well-formed XML: %s", e && e->message ? e->message : "libxml2 gave no reason");
            size_t n = strlen(error);
            while (n > 0 && (error[n - 1] == '\n' || error[n - 1] == ' ')) error[--n] = 0;
            notes.line = e ? e->line : 0;
        }
        *line = notes.line;
        if (doc) dd_xml_free((dd_xml_doc *)doc);
        dd_xmlFreeParserCtxt(c);
        return NULL;
    }
    dd_xmlFreeParserCtxt(c);
    return (dd_xml_doc *)doc;
}

const dd_xml_node *dd_xml_root(const dd_xml_doc *d) {
    for (xmlNodePtr n = ((xmlDocPtr)d)->children; n; n = n->next)
        if (n->type == XML_ELEMENT_NODE) return (const dd_xml_node *)n;
    return NULL;
}
int dd_xml_kind(const dd_xml_node *node) {
    const xmlNode *n = (const xmlNode *)node;
    if (n->type == XML_ELEMENT_NODE) return 1;
    if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) return 2;
    return 0;
}
const dd_xml_node *dd_xml_first_child(const dd_xml_node *n) { return (const dd_xml_node *)((const xmlNode *)n)->children; }
const dd_xml_node *dd_xml_next(const dd_xml_node *n) { return (const dd_xml_node *)((const xmlNode *)n)->next; }
const char *dd_xml_name(const dd_xml_node *n) { return (const char *)((const xmlNode *)n)->name; }
const char *dd_xml_namespace(const dd_xml_node *node) {
    const xmlNode *n = (const xmlNode *)node;
    return n->ns && n->ns->href ? (const char *)n->ns->href : NULL;
}
const char *dd_xml_text(const dd_xml_node *n) {
    const xmlChar *c = ((const xmlNode *)n)->content;
    return c ? (const char *)c : "";
}
/* Past line 65535 the node's own field saturates; xmlGetLineNo reads where XML_PARSE_BIG_LINES kept it. */
long dd_xml_line(const dd_xml_node *n) { CALL(xml2, xmlGetLineNo, (const xmlNode *)n); }
const dd_xml_attr *dd_xml_first_attribute(const dd_xml_node *node) {
    const xmlNode *n = (const xmlNode *)node;
    return n->type == XML_ELEMENT_NODE ? (const dd_xml_attr *)n->properties : NULL;
}
const dd_xml_attr *dd_xml_next_attribute(const dd_xml_attr *a) { return (const dd_xml_attr *)((const xmlAttr *)a)->next; }
const char *dd_xml_attribute_name(const dd_xml_attr *a) { return (const char *)((const xmlAttr *)a)->name; }
const char *dd_xml_attribute_namespace(const dd_xml_attr *attr) {
    const xmlAttr *a = (const xmlAttr *)attr;
    return a->ns && a->ns->href ? (const char *)a->ns->href : NULL;
}
const dd_xml_node *dd_xml_attribute_value(const dd_xml_attr *a) { return (const dd_xml_node *)((const xmlAttr *)a)->children; }
