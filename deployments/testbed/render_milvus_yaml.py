#!/usr/bin/env python3
"""Render the milvus wheel's config.yaml.template into a concrete milvus.yaml.

Usage: render_milvus_yaml.py TEMPLATE OUT [placeholder=value ...] [dotted.key=value ...]

* `{{ name(type): default }}` placeholders take the value given as `name=value`,
  else their default; a placeholder without default must be given.
* `a.b.c=value` replaces the scalar at that path (found by indentation). When the
  path does not exist (e.g. the commented-out `kafka:` block), the key is appended
  as a new top-level block, so it is never silently ignored.

Stdlib only: the bed must not depend on PyYAML being installed.
"""
import re
import sys

PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)(?:\([a-z]+\))?\s*(?::\s*([^}]*?))?\s*\}\}")


def fill_placeholders(text, values):
    def repl(m):
        name, default = m.group(1), m.group(2)
        if name in values:
            return values[name]
        if default is None:
            sys.exit(f"render_milvus_yaml: placeholder {name!r} has no default; pass {name}=VALUE")
        return default

    return PLACEHOLDER.sub(repl, text)


def set_key(lines, dotted, value):
    """Replace the value of dotted key in place; return False when absent."""
    want = dotted.split(".")
    stack = []  # (indent, key) of the enclosing mappings
    for i, line in enumerate(lines):
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(stripped)
        m = re.match(r"([A-Za-z0-9_]+):(.*)$", stripped)
        if not m:
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        path = [k for _, k in stack] + [m.group(1)]
        if path == want:
            cm = re.search(r"\s#\s.*$", m.group(2))
            comment = " " + cm.group(0).strip() if cm else ""
            lines[i] = " " * indent + m.group(1) + ": " + value + comment
            return True
        stack.append((indent, m.group(1)))
    return False


def append_key(lines, dotted, value):
    parts = dotted.split(".")
    lines.append("")
    for d, p in enumerate(parts[:-1]):
        lines.append("  " * d + p + ":")
    lines.append("  " * (len(parts) - 1) + parts[-1] + ": " + value)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    template, out = argv[1], argv[2]
    placeholders, overrides = {}, []
    for arg in argv[3:]:
        key, _, value = arg.partition("=")
        if "." in key:
            overrides.append((key, value))
        else:
            placeholders[key] = value
    with open(template, encoding="utf-8") as f:
        text = fill_placeholders(f.read(), placeholders)
    lines = text.split("\n")
    for key, value in overrides:
        if not set_key(lines, key, value):
            append_key(lines, key, value)
    rendered = "\n".join(lines)
    if "{{" in rendered:
        sys.exit("render_milvus_yaml: unrendered placeholder left in output")
    with open(out, "w", encoding="utf-8") as f:
        f.write(rendered)


if __name__ == "__main__":
    main(sys.argv)
