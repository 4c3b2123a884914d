#!/usr/bin/env python3
"""Checks that each target of Package.swift lists exactly the modules its sources import.

Reads the package as SwiftPM sees it (`swift package dump-package`, JSON on stdin) and every target's Swift
files; prints each target that lists a module it never imports, or imports one of the package's modules
without listing it, and exits 1 if there is any. Toolchain modules (Foundation, Testing, ...) are ignored.
"""
import json
import os
import re
import sys

package = json.load(sys.stdin)
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
names = {t["name"] for t in package["targets"]}
# An executable cannot be imported: a test target lists one to have it built (tests run `ferry` itself).
executables = {t["name"] for t in package["targets"] if t["type"] == "executable"}

IMPORT = re.compile(r"^\s*(?:@testable\s+|@_exported\s+)?import\s+(?:(?:struct|class|enum|func|protocol)\s+)?([A-Za-z_][A-Za-z0-9_]*)", re.M)

problems = []
for target in package["targets"]:
    if target["type"] == "system":
        continue
    path = target.get("path") or os.path.join("Tests" if target["type"] == "test" else "Sources", target["name"])
    imported = set()
    for folder, _, files in os.walk(os.path.join(root, path)):
        for name in files:
            if name.endswith(".swift"):
                with open(os.path.join(folder, name), encoding="utf-8") as f:
                    imported |= set(IMPORT.findall(f.read()))
    listed = set()
    for dep in target.get("dependencies", []):
        if "byName" in dep:
            listed.add(dep["byName"][0])
        elif "target" in dep:
            listed.add(dep["target"][0])
        elif "product" in dep:
            # A product's module is named after it (ArgumentParser).
            listed.add(dep["product"][0])
    unused = sorted(listed - imported - executables)
    missing = sorted((imported & names) - listed - {target["name"]})
    if unused:
        problems.append(f"{target['name']}: lists {', '.join(unused)} but never imports it")
    if missing:
        problems.append(f"{target['name']}: imports {', '.join(missing)} without listing it")

for line in problems:
    print(line)
sys.exit(1 if problems else 0)
