/* The few things httpd offers only as macros, inline functions or variadic
 * functions, wrapped as plain C functions that Rust can call. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "util_filter.h"
#include "apr_buckets.h"

/* Logs one preformatted line for a request: the message is never a format string. */
void pyrite_shim_log_rerror(const char *file, int line, int module_index, int level,
                            apr_status_t status, const request_rec *r, const char *msg)
{
    ap_log_rerror_(file, line, module_index, level, status, r, "%s", msg);
}

void pyrite_shim_log_error(const char *file, int line, int module_index, int level,
                           apr_status_t status, const server_rec *s, const char *msg)
{
    ap_log_error_(file, line, module_index, level, status, s, "%s", msg);
}

void pyrite_shim_log_perror(const char *file, int line, int module_index, int level,
                            apr_status_t status, apr_pool_t *p, const char *msg)
{
    ap_log_perror_(file, line, module_index, level, status, p, "%s", msg);
}

/* Whether a message at this level would be logged for this request (cheap check first). */
int pyrite_shim_rlog_enabled(const request_rec *r, int module_index, int level)
{
    return APLOG_R_MODULE_IS_LEVEL(r, module_index, level);
}

/* Ends a response whose headers are already out so the client can tell it was cut:
 * an error bucket makes the chunk filter omit the last chunk, and the connection
 * is closed after this request. */
apr_status_t pyrite_shim_abort_response(request_rec *r)
{
    conn_rec *c = r->connection;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, c->bucket_alloc);
    apr_bucket *e = ap_bucket_error_create(HTTP_BAD_GATEWAY, NULL, r->pool, c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, e);
    e = apr_bucket_eos_create(c->bucket_alloc);
    APR_BRIGADE_INSERT_TAIL(bb, e);
    c->keepalive = AP_CONN_CLOSE;
    return ap_pass_brigade(r->output_filters, bb);
}
