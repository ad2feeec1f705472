#!/usr/bin/env python3
"""Check that the source tree keeps to its layers (docs/architecture.md).

Every file under src/ and include/ sits in a layer's folder; a file
includes our headers as "layer/name.h", and only from its own layer or
from one the layer may use; the include graph between modules (a module is
a .c file and its header, by name) has no cycle. Exits 1 with every
violation listed, else 0 (and touches --stamp, for the build).
"""
import argparse
import os
import re
import sys

# What each layer may include besides itself. The order is the picture in
# docs/architecture.md, lowest first.
LAYERS = {
    'core': [],
    'probe': ['core'],
    'privilege': ['core'],
    'dio': ['core'],
    'ops': ['core', 'privilege', 'dio'],
    'transport': ['core', 'dio'],
    'cli': ['core', 'probe', 'privilege', 'dio', 'ops', 'transport'],
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(root):
    for top in ('src', 'include'):
        base = os.path.join(root, top)
        for dirpath, _, names in os.walk(base):
            for name in sorted(names):
                if name.endswith(('.c', '.h')):
                    path = os.path.join(dirpath, name)
                    yield top, os.path.relpath(path, base)


def module_of(rel):
    """'dio/dio.c' -> 'dio/dio'."""
    return os.path.splitext(rel)[0]


def cycles(graph):
    """The graph's strongly connected components of more than one node
    (Tarjan), each sorted: every include cycle lies within one."""
    index, low, on, stack, out = {}, {}, set(), [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def check(root):
    errors = []
    graph = {}
    headers = {rel for top, rel in sources(root) if top == 'include'}
    for top, rel in sources(root):
        parts = rel.split(os.sep)
        if len(parts) != 2 or parts[0] not in LAYERS:
            errors.append('%s/%s: not in a layer folder (%s)'
                          % (top, rel, ', '.join(LAYERS)))
            layer = None
        else:
            layer = parts[0]
        mod = module_of(rel)
        graph.setdefault(mod, set())
        with open(os.path.join(root, top, rel), encoding='utf-8') as f:
            text = f.read()
        for target in INCLUDE.findall(text):
            tparts = target.split('/')
            if target not in headers:
                errors.append('%s/%s: includes "%s", which is not a header '
                              'under include/' % (top, rel, target))
                continue
            tmod = module_of(target)
            if tmod != mod:
                graph[mod].add(tmod)
            if layer is None or len(tparts) != 2:
                continue
            if tparts[0] != layer and tparts[0] not in LAYERS[layer]:
                errors.append('%s/%s: layer %s includes "%s" from layer %s, '
                              'which it may not use (it may use: %s)'
                              % (top, rel, layer, target, tparts[0],
                                 ', '.join(LAYERS[layer]) or 'none'))
    for comp in cycles(graph):
        errors.append('include cycle among: ' + ', '.join(comp))
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--root', default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), '..'))
    ap.add_argument('--stamp')
    args = ap.parse_args()
    errors = check(args.root)
    for e in errors:
        print('check_layers: ' + e, file=sys.stderr)
    if errors:
        return 1
    if args.stamp:
        with open(args.stamp, 'w') as f:
            f.write('ok\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
