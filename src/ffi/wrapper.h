/* The httpd and APR headers mod_pyrite binds (bindgen reads this file). */
#include "httpd.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_main.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_connection.h"
#include "http_ssl.h"
#include "unixd.h"
#include "scoreboard.h"
#include "ap_mpm.h"
#include "util_filter.h"
#include "util_script.h"
#include "apr_strings.h"
#include "apr_tables.h"
#include "apr_buckets.h"
#include "apr_global_mutex.h"
#include "apr_shm.h"
#include "apr_optional.h"
/* The authn/authz provider API (src/ffi/auth.rs). */
#include "mod_auth.h"
/* mod_include's SSI API, for the #python element (src/ssi.rs). */
#include "mod_include.h"

/* The C shim (src/ffi/shim.c): what httpd offers only as macros or variadics. */
void pyrite_shim_log_rerror(const char *file, int line, int module_index, int level,
                            apr_status_t status, const request_rec *r, const char *msg);
void pyrite_shim_log_error(const char *file, int line, int module_index, int level,
                           apr_status_t status, const server_rec *s, const char *msg);
void pyrite_shim_log_cerror(const char *file, int line, int module_index, int level,
                            apr_status_t status, const conn_rec *c, const char *msg);
void pyrite_shim_log_perror(const char *file, int line, int module_index, int level,
                            apr_status_t status, apr_pool_t *p, const char *msg);
int pyrite_shim_rlog_enabled(const request_rec *r, int module_index, int level);
apr_status_t pyrite_shim_abort_response(request_rec *r);
int pyrite_shim_first_listen_port(void);
int pyrite_shim_brigade_empty(apr_bucket_brigade *bb);
int pyrite_shim_first_kind(apr_bucket_brigade *bb);
apr_status_t pyrite_shim_first_read(apr_bucket_brigade *bb, const char **data, apr_size_t *len, int block);
apr_status_t pyrite_shim_first_split(apr_bucket_brigade *bb, apr_size_t n);
void pyrite_shim_first_delete(apr_bucket_brigade *bb);
void pyrite_shim_first_move(apr_bucket_brigade *from, apr_bucket_brigade *to);
void pyrite_shim_brigade_concat(apr_bucket_brigade *to, apr_bucket_brigade *from);
void pyrite_shim_append_eos(apr_bucket_brigade *bb);
void pyrite_shim_append_error(apr_bucket_brigade *bb, int status, apr_pool_t *p);
void pyrite_shim_append_flush(apr_bucket_brigade *bb);
apr_status_t pyrite_shim_end_request_flushed(request_rec *r, apr_bucket_brigade *bb);
void pyrite_shim_append_copy(apr_bucket_brigade *bb, const char *data, apr_size_t len);
apr_status_t pyrite_shim_filter_abort(ap_filter_t *f, int status);
int pyrite_shim_brigade_has_eos(apr_bucket_brigade *bb);
void pyrite_shim_drop_mpm_request_hooks(const char *mpm);
