#!/usr/bin/env python3
"""Print each non-empty YAML document as one JSON line, read as yaml-equiv reads it.

usage: yaml_views.py YAML_EQUIV 1.1|1.2 FILE...

tests/corpus.rs uses this to compare a render *with* identity against its input under
yaml-equiv's YAML 1.1 and YAML 1.2 readers (yaml-equiv itself can only say "equal" or
"different" for whole documents, and a render with identity differs by design). The
loaders are imported from the yaml-equiv script given as the first argument, so the two
tools cannot drift apart.

Values that JSON cannot carry exactly are tagged rather than approximated, so that the
comparison stays strict: integers beyond 2**53 become {"$int": "123..."}, non-finite floats
{"$float": "nan"}, non-string mapping keys "$key:<json>", anything else {"$type", "$repr"}.
"""
import importlib.machinery
import importlib.util
import json
import math
import sys


def load_yaml_equiv(path):
    loader = importlib.machinery.SourceFileLoader("yaml_equiv", path)
    spec = importlib.util.spec_from_loader("yaml_equiv", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def plain(value):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**53 else {"$int": str(value)}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$float": repr(value)}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            name = key if isinstance(key, str) else "$key:" + json.dumps(plain(key), sort_keys=True)
            out[name] = plain(item)
        return out
    return {"$type": type(value).__name__, "$repr": repr(value)}


def main(argv):
    if len(argv) < 3 or argv[1] not in ("1.1", "1.2"):
        print(__doc__, file=sys.stderr)
        return 2
    equiv = load_yaml_equiv(argv[0])
    loader = equiv.Loader11 if argv[1] == "1.1" else equiv.Loader12
    for name in argv[2:]:
        with open(name, encoding="utf-8") as handle:
            for doc in equiv.yaml.load_all(handle.read(), Loader=loader):
                if doc is not None:
                    print(json.dumps(plain(doc), sort_keys=True, allow_nan=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
