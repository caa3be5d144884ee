#!/usr/bin/env python3
"""Finds the AVX-512 UTF-8 bug's shape: two calls that receive the address of the same object
as operands of one operator or as arguments of one call, e.g. or(step(a, &prev), step(b, &prev)).
C leaves their order unspecified, and compilers do not warn when the writes happen inside the
called functions. Short-circuit operators, ?:, and the comma operator sequence their operands
and are not reported. Prints TAP. Usage: unsequenced.py FILE_OR_DIR... (directories: every .c and .h below)"""
import os, re, sys

def strip(src):
    src = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), src, flags=re.S)
    src = re.sub(r"//[^\n]*", "", src)
    src = re.sub(r'"(\\.|[^"\\\n])*"', '""', src)
    return re.sub(r"'(\\.|[^'\\\n])*'", "' '", src)

def groups(text, start):
    """The top-level operands inside the bracket opened at text[start], split at commas."""
    depth, parts, cur, i = 0, [], start + 1, start + 1
    while i < len(text):
        ch = text[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            if depth == 0:
                parts.append((cur, i))
                return parts, i
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append((cur, i))
            cur = i + 1
        elif ch == ";" and depth == 0:
            return [], i
        i += 1
    return [], i

ADDR = re.compile(r"&\s*([A-Za-z_]\w*(?:\s*(?:->|\.)\s*\w+)*)")
CALL = re.compile(r"\b([A-Za-z_]\w*)\s*\(")

def addresses_in_calls(text):
    """Names whose address is passed to a call somewhere in text."""
    out = set()
    for m in CALL.finditer(text):
        if m.group(1) in ("if", "while", "for", "switch", "return", "sizeof"):
            continue
        parts, _ = groups(text, m.end() - 1)
        for a, b in parts:
            for n in ADDR.findall(text[a:b]):
                out.add(re.sub(r"\s+", "", n))
    return out

def split_unsequenced(expr):
    """Operands of one full expression that are not sequenced against each other: split at
    top-level binary operators other than && || ?: and the comma operator."""
    depth, parts, cur = 0, [], 0
    i = 0
    while i < len(expr):
        ch = expr[i]
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0:
            two = expr[i:i + 2]
            if two in ("&&", "||"):
                return []  # sequenced: not our concern at this level
            if ch in "?:":
                return []
            if ch in "|^+-*/%<>" or (ch == "&" and i + 1 < len(expr) and expr[i - 1] in " )" and expr[i + 1] == " "):
                parts.append(expr[cur:i])
                cur = i + 1
        i += 1
    parts.append(expr[cur:])
    return parts

def check(path, text):
    src = strip(text)
    found = []
    # 1. arguments of one call
    for m in CALL.finditer(src):
        if m.group(1) in ("if", "while", "for", "switch", "return", "sizeof"):
            continue
        parts, _ = groups(src, m.end() - 1)
        seen = {}
        for a, b in parts:
            for n in addresses_in_calls(src[a:b]):
                seen.setdefault(n, 0)
                seen[n] += 1
        for n, k in seen.items():
            if k >= 2:
                line = src.count("\n", 0, m.start()) + 1
                found.append("%s:%d: &%s reaches two calls among the arguments of %s()" % (path, line, n, m.group(1)))
    # 2. operands of one binary operator, statement by statement
    for m in re.finditer(r"[^;{}]*;", src):
        stmt = m.group(0)
        for side in re.split(r"(?<![=!<>])=(?!=)", stmt)[-1:]:
            ops = split_unsequenced(side)
            if len(ops) < 2:
                continue
            seen = {}
            for o in ops:
                for n in addresses_in_calls(o):
                    seen[n] = seen.get(n, 0) + 1
            for n, k in seen.items():
                if k >= 2:
                    line = src.count("\n", 0, m.start()) + 1
                    found.append("%s:%d: &%s reaches calls on both sides of one operator" % (path, line, n))
    return found

BAD = """
static int f(void) {
	err = _mm512_or_si512(avx512_step(a, &prev, &inc), avx512_step(b, &prev, &inc));
	x = step(&s) + step(&s);
	return 0;
}
"""
GOOD = """
static int f(void) {
	__m512i ea = avx512_step(a, &prev, &inc);
	__m512i eb = avx512_step(b, &prev, &inc);
	if (feed(&s, p, n) == 0 && finish(&s) == 0) return 1;
	wr_list_insert_tail(&r->closed, &c->link);
	return g(&a) + g(&b);
}
"""

def main(argv):
    n = fails = 0
    def say(ok, what):
        nonlocal n, fails
        n += 1
        fails += not ok
        print("%s %d - %s" % ("ok" if ok else "not ok", n, what))
    bad, good = check("bad.c", BAD), check("good.c", GOOD)
    say(any("arguments of _mm512_or_si512" in f for f in bad) and any("both sides" in f for f in bad),
        "self-test: both unsequenced shapes in a planted example are found")
    for f in bad:
        print("# " + f)
    say(not good, "self-test: sequenced and unrelated calls are not reported")
    for f in good:
        print("# " + f)
    paths = []
    for a in argv:
        if os.path.isdir(a):
            for root, _, files in sorted(os.walk(a)):
                paths += [os.path.join(root, f) for f in sorted(files) if f.endswith((".c", ".h"))]
        else:
            paths.append(a)
    for path in paths:
        found = check(path, open(path, errors="replace").read())
        say(not found, "no address reaches two unsequenced calls: " + path)
        for f in found:
            print("# " + f)
    print("1..%d" % n)
    return 1 if fails else 0

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
