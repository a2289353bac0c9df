#!/usr/bin/env python3
"""Runs the API tests: every test_* function of tests/api/test_*.py.

    python3 tests/api/run.py                 # all files
    python3 tests/api/run.py test_codes.py   # some files (or module names)
    python3 tests/api/run.py test_codes.test_valid_code   # one test

Prints one line per test and ends with "N passed, N failed" (and ", N
skipped" when a test raised harness.Skip: it does not apply here, say on
PostgreSQL, and its line is "SKIP name: reason"); exits 1 if any test
failed.  Tests run in file order, then definition order.  Other suites
(tests/cluster/run.py) run their files through main().
"""

import glob
import importlib.util
import inspect
import os
import sys
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def load(path):
    name = os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return name, mod


def tests_of(mod):
    fns = [f for n, f in vars(mod).items()
           if n.startswith("test_") and inspect.isfunction(f)
           and f.__module__ == mod.__name__]
    return sorted(fns, key=lambda f: f.__code__.co_firstlineno)


def select(args, here=HERE):
    """[(path, only-this-test-or-None)] for the command-line arguments, file
    names relative to here."""
    if not args:
        return [(p, None) for p in sorted(glob.glob(os.path.join(here, "test_*.py")))]
    out = []
    for a in args:
        only = None
        base = os.path.basename(a)
        if not base.endswith(".py") and "." in base:
            base, only = base.split(".", 1)
        if not base.endswith(".py"):
            base += ".py"
        path = a if os.path.exists(a) and a.endswith(".py") else os.path.join(here, base)
        out.append((path, only))
    return out


def describe(exc):
    if isinstance(exc, AssertionError) and str(exc):
        return str(exc)
    return "".join(traceback.format_exception_only(type(exc), exc)).strip()


def main(argv, here=HERE):
    sys.path.insert(0, HERE)
    from harness import Skip
    passed = failed = skipped = 0
    for path, only in select(argv[1:], here):
        try:
            name, mod = load(path)
        except Exception as exc:   # a file that does not load is a failure
            print(f"FAIL {os.path.basename(path)}: cannot load: {describe(exc)}")
            failed += 1
            continue
        for fn in tests_of(mod):
            if only is not None and fn.__name__ != only:
                continue
            label = f"{name}.{fn.__name__}"
            try:
                fn()
            except Skip as exc:
                skipped += 1
                print(f"SKIP {label}: {exc}")
            except Exception as exc:
                failed += 1
                print(f"FAIL {label}: {describe(exc)}")
                if not isinstance(exc, AssertionError):
                    traceback.print_exc()
            else:
                passed += 1
                print(f"ok   {label}")
            sys.stdout.flush()
    print(f"{passed} passed, {failed} failed"
          + (f", {skipped} skipped" if skipped else ""))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
