"""Counts the work mod_python.Cookie does to parse hostile Cookie headers.

Run by tests/lib_cookie.rs as `python3 cookie_work.py PATH/TO/Cookie.py`.
It loads the shipped Cookie.py on its own (it needs only the standard
library), then parses headers of several shapes and sizes up to httpd's
header limit and counts:

- every line the parser runs in Cookie.py (sys.settrace), and
- every instruction a backtracking regular-expression machine runs for each
  pattern the module matches with. Each compiled pattern of the module is
  replaced by a proxy that runs the pattern on a small backtracking machine
  of its own (same order of alternatives as Python's `re`, so a pattern that
  backtracks costs here what it costs there) and checks its answer against
  `re`'s before returning `re`'s match.

The work must stay under WORK_PER_CHAR per header character plus a constant:
a parser whose work grows with the square of a run of spaces, tabs, quotes or
semicolons exceeds it by far. Slicing out a name or a value is not counted (it
copies each character of the result once). Prints one line per shape and
exits 1 when a shape exceeds its budget or the machine disagrees with `re`.
"""
import importlib.util
import re
import sys

try:
    from re import _constants as C, _parser as P
except ImportError:  # Python before 3.11
    import sre_constants as C
    import sre_parse as P

WORK_PER_CHAR = 60
WORK_CONSTANT = 2000
SIZES = (512, 2048, 8190)  # 8190: httpd's LimitRequestFieldSize


class OverBudget(Exception):
    pass


class Unsupported(Exception):
    pass


class Counter:
    steps = 0
    budget = None

    def add(self, k):
        self.steps += k
        if self.budget is not None and self.steps > self.budget:
            raise OverBudget()


COUNT = Counter()


def _category(cat):
    if cat == C.CATEGORY_SPACE:
        return str.isspace
    if cat == C.CATEGORY_NOT_SPACE:
        return lambda c: not c.isspace()
    if cat == C.CATEGORY_DIGIT:
        return str.isdigit
    if cat == C.CATEGORY_NOT_DIGIT:
        return lambda c: not c.isdigit()
    raise Unsupported("category %s" % (cat,))


def _class(items):
    tests, negate = [], False
    for op, av in items:
        if op == C.NEGATE:
            negate = True
        elif op == C.LITERAL:
            tests.append(lambda c, ch=chr(av): c == ch)
        elif op == C.RANGE:
            tests.append(lambda c, lo=av[0], hi=av[1]: lo <= ord(c) <= hi)
        elif op == C.CATEGORY:
            tests.append(_category(av))
        else:
            raise Unsupported("class item %s" % (op,))
    return lambda c: any(t(c) for t in tests) != negate


def _compile(items, flags, prog):
    """Appends instructions for `items`: ("char", test), ("split", first,
    second), ("jmp", to), ("save", slot), ("end",), ("match",)."""
    for op, av in items:
        if op == C.LITERAL:
            prog.append(("char", lambda c, ch=chr(av): c == ch))
        elif op == C.NOT_LITERAL:
            prog.append(("char", lambda c, ch=chr(av): c != ch))
        elif op == C.ANY:
            dotall = flags & re.DOTALL
            prog.append(("char", lambda c: dotall or c != "\n"))
        elif op == C.IN:
            prog.append(("char", _class(av)))
        elif op == C.AT and av == C.AT_END_STRING:
            prog.append(("end",))
        elif op == C.SUBPATTERN:
            group, _, _, body = av
            if group is not None:
                prog.append(("save", 2 * group))
            _compile(body, flags, prog)
            if group is not None:
                prog.append(("save", 2 * group + 1))
        elif op == C.BRANCH:
            jumps = []
            alts = av[1]
            for k, alt in enumerate(alts):
                if k < len(alts) - 1:
                    split = len(prog)
                    prog.append(None)
                    _compile(alt, flags, prog)
                    jumps.append(len(prog))
                    prog.append(None)
                    prog[split] = ("split", split + 1, len(prog))
                else:
                    _compile(alt, flags, prog)
            for j in jumps:
                prog[j] = ("jmp", len(prog))
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            lo, hi, body = av
            greedy = op == C.MAX_REPEAT
            for _ in range(lo):
                _compile(body, flags, prog)
            optional = None if hi == C.MAXREPEAT else hi - lo
            if optional is not None and optional > 100:
                raise Unsupported("repeat of %d" % hi)
            loops = 1 if optional is None else optional
            pending = []
            for _ in range(loops):
                split = len(prog)
                prog.append(None)
                _compile(body, flags, prog)
                if optional is None:
                    prog.append(("jmp", split))
                pending.append(split)
            for split in pending:
                body_at, out = split + 1, len(prog)
                prog[split] = ("split", body_at, out) if greedy else ("split", out, body_at)
        else:
            raise Unsupported("pattern element %s" % (op,))
    return prog


class CountedPattern:
    """A compiled pattern whose matches are also run, and counted, on the
    backtracking machine."""

    def __init__(self, real):
        if real.flags & (re.IGNORECASE | re.MULTILINE):
            raise Unsupported("flags of %r" % real.pattern)
        self.real = real
        self.prog = _compile(P.parse(real.pattern, real.flags), real.flags, [])
        self.prog.append(("match",))

    def _run(self, s, pos):
        prog, n = self.prog, len(s)
        stack = [(0, pos, ())]
        steps = 0
        try:
            while stack:
                pc, i, saves = stack.pop()
                while True:
                    steps += 1
                    ins = prog[pc]
                    kind = ins[0]
                    if kind == "char":
                        if i < n and ins[1](s[i]):
                            pc, i = pc + 1, i + 1
                            continue
                        break
                    if kind == "split":
                        stack.append((ins[2], i, saves))
                        pc = ins[1]
                    elif kind == "jmp":
                        pc = ins[1]
                    elif kind == "save":
                        saves = saves + ((ins[1], i),)
                        pc += 1
                    elif kind == "end":
                        if i != n:
                            break
                        pc += 1
                    else:
                        return i, dict(saves)
                if steps > 10000:
                    COUNT.add(steps)
                    steps = 0
            return None
        finally:
            COUNT.add(steps)

    def match(self, s, pos=0):
        mine = self._run(s, pos)
        real = self.real.match(s, pos)
        if (mine is None) != (real is None) or (real is not None and mine[0] != real.end()):
            raise AssertionError("counting machine disagrees with re on %r at %d" % (self.real.pattern, pos))
        if real is not None:
            for g in range(1, self.real.groups + 1):
                span = (mine[1].get(2 * g, -1), mine[1].get(2 * g + 1, -1)) if 2 * g + 1 in mine[1] else (-1, -1)
                if span != real.span(g):
                    raise AssertionError("counting machine's group %d differs on %r" % (g, self.real.pattern))
        return real

    def __getattr__(self, name):
        raise Unsupported("Cookie.py uses %s() of a pattern, which this count does not cover" % name)


def load(path):
    spec = importlib.util.spec_from_file_location("shipped_Cookie", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    for name, value in list(vars(mod).items()):
        if isinstance(value, re.Pattern):
            setattr(mod, name, CountedPattern(value))
    return mod


def shapes(n):
    """Hostile and ordinary headers of exactly n characters."""
    def fill(head, unit, tail=""):
        body = (unit * n)[: max(0, n - len(head) - len(tail))]
        return (head + body + tail)[:n]
    return {
        "spaces in a value": fill("a=x", " ", "y"),
        "tabs in a value": fill("a=x", "\t", "y"),
        "spaces after a name": fill("a", " ", "b"),
        "spaces after an equals sign": fill("a=", " ", "y"),
        "unclosed quote then spaces": fill('a="', " ", "y"),
        "quoted value then spaces": fill('a="x"', " ", "y"),
        "escaped quotes": fill('a="', '\\"'),
        "backslashes": fill('a="', "\\"),
        "quotes": fill("", '"'),
        "quotes after an equals sign": fill("a=", '"'),
        "semicolons": fill("", ";"),
        "semicolons and spaces": fill("", "; "),
        "spaces and semicolons": fill("", " ;"),
        "commas": fill("", ",", "=x"),
        "commas and spaces": fill("", ", ", ";"),
        "equals signs": fill("", "="),
        "empty pairs": fill("", "a=;"),
        "quoted pairs with semicolons": fill("", 'a=" ;'),
        "many cookies": fill("", "k=v; "),
        "a long name": fill("", "n", "=v"),
        "a long value": fill("a=", "v"),
    }


def main():
    mod = load(sys.argv[1])
    files = {mod.__file__}

    lines = [0]

    def local(frame, event, arg):
        if event == "line":
            lines[0] += 1
        return local

    def tracer(frame, event, arg):
        return local if frame.f_code.co_filename in files else None

    failed = False
    for n in SIZES:
        for label, header in shapes(n).items():
            assert len(header) == n, (label, len(header))
            budget = WORK_PER_CHAR * n + WORK_CONSTANT
            lines[0], COUNT.steps, COUNT.budget = 0, 0, budget
            outcome = "ok"
            sys.settrace(tracer)
            try:
                for attributes in (True, False):
                    mod._parse_cookies(header, mod.Cookie, None, attributes)
                    if lines[0] + COUNT.steps > budget:
                        raise OverBudget()
            except OverBudget:
                outcome = "OVER BUDGET"
                failed = True
            finally:
                sys.settrace(None)
            work = lines[0] + COUNT.steps
            print("%-30s %5d chars: work %8d (%s, budget %d)" % (label, n, work, outcome, budget))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
