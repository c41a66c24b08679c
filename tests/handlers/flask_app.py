"""A Flask application (Debian's python3-flask) served by WSGIScriptAlias."""
from flask import Flask, Response, jsonify, redirect, request

app = Flask(__name__)


@app.route("/")
def index():
    return "flask index"


@app.route("/hello/<name>")
def hello(name):
    return "hello %s" % name


@app.route("/form", methods=["POST"])
def form():
    return "sum=%d" % (int(request.form["a"]) + int(request.form["b"]))


@app.route("/json", methods=["POST"])
def json_echo():
    data = request.get_json()
    return jsonify(received=data, count=len(data["items"]))


@app.route("/cookie/set")
def set_cookie():
    resp = Response("cookie set")
    resp.set_cookie("flavour", "oatmeal")
    return resp


@app.route("/cookie/get")
def get_cookie():
    return "flavour=%s" % request.cookies.get("flavour", "none")


@app.route("/redirect")
def go():
    return redirect("/flask/hello/redirected")


@app.route("/stream")
def stream():
    def generate():
        for i in range(5):
            yield "chunk%d;" % i
    return Response(generate(), mimetype="text/plain")


@app.route("/boom")
def boom():
    raise ValueError("flask view failed")


@app.errorhandler(404)
def not_found(e):
    return "custom not found", 404


@app.errorhandler(500)
def server_error(e):
    return "handled error", 500


application = app
