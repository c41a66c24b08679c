/* The few things httpd offers only as macros, inline functions or variadic
 * functions, wrapped as plain C functions that Rust can call. */
#include "httpd.h"
#include "http_config.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "http_connection.h"
#include <string.h>
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

void pyrite_shim_log_cerror(const char *file, int line, int module_index, int level,
                            apr_status_t status, const conn_rec *c, const char *msg)
{
    ap_log_cerror_(file, line, module_index, level, status, c, "%s", msg);
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

/* ---- brigades and buckets: APR's bucket API is mostly macros ---- */

int pyrite_shim_brigade_empty(apr_bucket_brigade *bb)
{
    return APR_BRIGADE_EMPTY(bb);
}

/* What the first bucket of a brigade is: -1 none, 0 data, 1 EOS, 2 FLUSH, 3 other metadata. */
int pyrite_shim_first_kind(apr_bucket_brigade *bb)
{
    apr_bucket *e;
    if (APR_BRIGADE_EMPTY(bb))
        return -1;
    e = APR_BRIGADE_FIRST(bb);
    if (APR_BUCKET_IS_EOS(e))
        return 1;
    if (APR_BUCKET_IS_FLUSH(e))
        return 2;
    if (APR_BUCKET_IS_METADATA(e))
        return 3;
    return 0;
}

/* Reads the first (data) bucket; *data stays valid until that bucket is deleted. */
apr_status_t pyrite_shim_first_read(apr_bucket_brigade *bb, const char **data, apr_size_t *len, int block)
{
    apr_bucket *e = APR_BRIGADE_FIRST(bb);
    return apr_bucket_read(e, data, len, block ? APR_BLOCK_READ : APR_NONBLOCK_READ);
}

/* Splits the first bucket after n bytes (its data must have been read). */
apr_status_t pyrite_shim_first_split(apr_bucket_brigade *bb, apr_size_t n)
{
    return apr_bucket_split(APR_BRIGADE_FIRST(bb), n);
}

void pyrite_shim_first_delete(apr_bucket_brigade *bb)
{
    apr_bucket *e = APR_BRIGADE_FIRST(bb);
    apr_bucket_delete(e);
}

/* Moves the first bucket to the end of another brigade (same allocator). */
void pyrite_shim_first_move(apr_bucket_brigade *from, apr_bucket_brigade *to)
{
    apr_bucket *e = APR_BRIGADE_FIRST(from);
    APR_BUCKET_REMOVE(e);
    APR_BRIGADE_INSERT_TAIL(to, e);
}

/* Appends every bucket of `from` to `to`, leaving `from` empty. */
void pyrite_shim_brigade_concat(apr_bucket_brigade *to, apr_bucket_brigade *from)
{
    APR_BRIGADE_CONCAT(to, from);
}

void pyrite_shim_append_eos(apr_bucket_brigade *bb)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(bb->bucket_alloc));
}

/* An error bucket: the HTTP filters close the connection after this response
 * (what httpd's own end of a request does when the body could not be read). */
void pyrite_shim_append_error(apr_bucket_brigade *bb, int status, apr_pool_t *p)
{
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(status, NULL, p, bb->bucket_alloc));
}

void pyrite_shim_append_flush(apr_bucket_brigade *bb)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(bb->bucket_alloc));
}

/* Ends request r on its connection in one pass of the output filters: its
 * end-of-request bucket (which releases r when the response is out) and a
 * flush; bb is an empty brigade of the connection's, left empty. */
apr_status_t pyrite_shim_end_request_flushed(request_rec *r, apr_bucket_brigade *bb)
{
    conn_rec *c = r->connection;
    apr_status_t rv;
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_eor_create(c->bucket_alloc, r));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_flush_create(c->bucket_alloc));
    rv = ap_pass_brigade(c->output_filters, bb);
    apr_brigade_cleanup(bb);
    return rv;
}

/* Appends a copy of the bytes (a heap bucket): the caller's buffer may go away. */
void pyrite_shim_append_copy(apr_bucket_brigade *bb, const char *data, apr_size_t len)
{
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_heap_create(data, len, NULL, bb->bucket_alloc));
}

/* An output filter failed: before the headers, an error bucket makes httpd answer
 * with `status`; after them, a 502 error bucket cuts the response visibly (no last
 * chunk) and the connection is closed. EOS ends the request for the filters below. */
apr_status_t pyrite_shim_filter_abort(ap_filter_t *f, int status)
{
    request_rec *r = f->r;
    conn_rec *c = f->c;
    apr_pool_t *p = r ? r->pool : c->pool;
    apr_bucket_brigade *bb = apr_brigade_create(p, c->bucket_alloc);
    if (r && r->sent_bodyct)
        status = HTTP_BAD_GATEWAY;
    APR_BRIGADE_INSERT_TAIL(bb, ap_bucket_error_create(status, NULL, p, c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(c->bucket_alloc));
    c->keepalive = AP_CONN_CLOSE;
    return ap_pass_brigade(f->next, bb);
}

int pyrite_shim_brigade_has_eos(apr_bucket_brigade *bb)
{
    apr_bucket *e;
    for (e = APR_BRIGADE_FIRST(bb); e != APR_BRIGADE_SENTINEL(bb); e = APR_BUCKET_NEXT(e))
        if (APR_BUCKET_IS_EOS(e))
            return 1;
    return 0;
}

#include "ap_listen.h"

/* The port of the first Listen line (0 when none): what a request to a
 * server without a port of its own most likely arrives on. */
int pyrite_shim_first_listen_port(void)
{
    ap_listen_rec *l = ap_listeners;
    return (l && l->bind_addr) ? (int)l->bind_addr->port : 0;
}

/* In a daemon (daemon mode), connections are not the MPM's: drop the request
 * hooks the MPM registered (event's expect its own connection state), keeping
 * every other module's. `mpm` is the MPM module's name, as "event.c". */
#define PYRITE_DROP_HOOKS(name, mpm)                                            \
    do {                                                                        \
        apr_array_header_t *a = ap_hook_get_##name();                           \
        if (a) {                                                                \
            ap_LINK_##name##_t *e = (ap_LINK_##name##_t *)a->elts;              \
            int i, j = 0;                                                       \
            for (i = 0; i < a->nelts; i++)                                      \
                if (!e[i].szName || strcmp(e[i].szName, mpm) != 0)              \
                    e[j++] = e[i];                                              \
            a->nelts = j;                                                       \
        }                                                                       \
    } while (0)

void pyrite_shim_drop_mpm_request_hooks(const char *mpm)
{
    PYRITE_DROP_HOOKS(pre_read_request, mpm);
    PYRITE_DROP_HOOKS(post_read_request, mpm);
    PYRITE_DROP_HOOKS(create_request, mpm);
    PYRITE_DROP_HOOKS(pre_connection, mpm);
}
