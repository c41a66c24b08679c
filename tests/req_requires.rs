//! `req.requires()`: the Require lines in force for the request and its
//! method, read from the section (or .htaccess file) the handlers are in.
mod common;
use common::*;

#[test]
fn requires_lists_the_sections_require_lines_for_the_method() {
    let m = MODULES;
    let site = format!(
        "LoadModule authn_core_module {m}/mod_authn_core.so\nLoadModule authz_user_module {m}/mod_authz_user.so\n\
         <Directory {{DOCS}}/auth>\n  AuthType Basic\n  AuthName x\n  Require valid-user\n  <Limit POST>\n    Require user alice\n  </Limit>\n\
           SetHandler mod_python\n  PythonAuthenHandler hlists::authen_alice\n  PythonHandler hlists::requires\n  PythonPath \"sys.path+['{{HANDLERS}}']\"\n</Directory>\n\
         <Directory {{DOCS}}/auth/sub>\n  Require user alice bob\n  PythonDebug On\n</Directory>\n\
         <Directory {{DOCS}}/ht>\n  AllowOverride All\n</Directory>\n\
         <Location /none>\n  SetHandler mod_python\n  PythonHandler hlists::requires\n  PythonPath \"sys.path+['{{HANDLERS}}']\"\n</Location>\n"
    );
    let h = Httpd::start(Mpm::Event, &site);
    h.write_doc("auth/a.txt", b"");
    h.write_doc("auth/sub/b.txt", b"");
    h.write_doc("ht/c.txt", b"");
    let htaccess = format!(
        "AuthType Basic\nAuthName x\nRequire valid-user\nSetHandler mod_python\nPythonAuthenHandler hlists::authen_alice\n\
         PythonHandler hlists::requires\nPythonPath \"sys.path+['{}']\"\n",
        h.root.join("handlers").display()
    );
    h.write_doc("ht/.htaccess", htaccess.as_bytes());
    let r = h.get("/auth/a.txt");
    assert_eq!(r.status, 200, "{}", h.error_log());
    assert_eq!(r.text(), "('valid-user',)");
    let r = h.request("POST", "/auth/a.txt", &[], b"");
    assert_eq!(r.text(), "('valid-user', 'user alice')", "{}", h.error_log());
    // A section's own lines replace the enclosing ones.
    assert_eq!(h.get("/auth/sub/b.txt").text(), "('user alice bob',)", "{}", h.error_log());
    assert_eq!(h.get("/ht/c.txt").text(), "('valid-user',)", "{}", h.error_log());
    assert_eq!(h.get("/none").text(), "()");
}
