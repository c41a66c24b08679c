# Access control by script (WSGIAuthUserScript, WSGIAuthGroupScript,
# WSGIAccessScript) for tests/wsgi_auth.rs. The same file is mounted as the
# application, which reports what the auth functions saw in this request.
import hashlib
import json

ACCOUNTS = {'ann': 'pw-ann', 'bob': 'pw-bob', 'carol': 'pw-carol'}
TEAMS = {'ann': ['editors', 'staff'], 'bob': [b'staff'], 'carol': []}
SEEN = {}


def _note(environ, what):
    SEEN[what] = {
        'has_authorization': 'HTTP_AUTHORIZATION' in environ,
        'has_input': 'wsgi.input' in environ,
        'group': environ.get('mod_wsgi.application_group'),
        'path_info': environ.get('PATH_INFO'),
        'errors_write': hasattr(environ.get('wsgi.errors'), 'write'),
        'is_https': environ['mod_ssl.is_https'](),
        'ssl_protocol': environ['mod_ssl.var_lookup']('SSL_PROTOCOL'),
    }
    environ['wsgi.errors'].write('auth script logs through wsgi.errors: %s\n' % what)


def check_password(environ, user, password):
    _note(environ, 'check_password')
    if user == 'boom':
        raise RuntimeError('the account store is down')
    if user == 'odd':
        return 42
    if user == 'nick':
        return 'ann' if password == 'pw-ann' else False
    if user not in ACCOUNTS:
        return None
    return ACCOUNTS[user] == password


def get_realm_hash(environ, user, realm):
    _note(environ, 'get_realm_hash')
    if user not in ACCOUNTS:
        return None
    text = '%s:%s:%s' % (user, realm, ACCOUNTS[user])
    return hashlib.md5(text.encode('latin-1')).hexdigest()


def groups_for_user(environ, user):
    _note(environ, 'groups_for_user')
    return TEAMS.get(user, [])


def allow_access(environ, host):
    _note(environ, 'allow_access')
    SEEN['host'] = host
    url = environ.get('SCRIPT_NAME', '') + environ.get('PATH_INFO', '')
    last = url.rsplit('/', 1)[-1]
    if last == 'closed':
        return False
    if last.startswith('neutral'):
        return None
    if last == 'broken':
        return 'yes'
    return True


def application(environ, start_response):
    body = json.dumps({
        'user': environ.get('REMOTE_USER'),
        'auth_type': environ.get('AUTH_TYPE'),
        'seen': SEEN,
    }).encode()
    SEEN.clear()
    start_response('200 OK', [('Content-Type', 'application/json')])
    return [body]
