#!/usr/bin/python3
"""Runs action.yml's steps as a GitHub runner runs a composite action, on this machine.

    recipes_action.py [--ref REF] [--action-path DIR] [--outputs FILE] [--log FILE]
                      [--must-mask VALUE]... [--env NAME=VALUE]... ACTION_DIR WORKSPACE [INPUT=VALUE]...

What it does as the runner does: the inputs' defaults; ${{ inputs.X }}, ${{ github.action_path }},
${{ github.action_ref }} and ${{ steps.ID.outputs.X }} in with:, env: and run:; each run: step through
`bash --noprofile --norc -eo pipefail FILE` in the workspace, with GITHUB_ACTIONS and CI true,
GITHUB_ACTION_PATH, RUNNER_TEMP and fresh GITHUB_PATH, GITHUB_ENV and GITHUB_OUTPUT files, whose lines later
steps see (PATH entries, variables, the outputs of steps.ID); the action's outputs from its steps';
::add-mask:: and ::stop-commands::. What it cannot do is a uses: step: the only one allowed is
actions/setup-go, whose go-version-file must be the action's go.mod, and whose Go version the go on PATH must
have (or a newer one). Any other expression or action is an error, so that action.yml cannot grow one that
this test does not cover.

It exits 1 when a step fails; 3 when a --must-mask value shows in the log other than in its ::add-mask::
command, or is never masked (a failed run's log is checked too); 2 on an error in action.yml or in the
arguments. The log (as the runner would show it, less the masking) goes to stdout and to --log; the action's
outputs, the PATH entries and the variables the steps added, as JSON to --outputs.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def evaluate(text, ctx):
    """Replaces each ${{ expr }} in text; an expression this runner does not know is an error."""

    def one(m):
        expr = m.group(1)
        parts = expr.split(".")
        if len(parts) == 2 and parts[0] == "inputs":
            if parts[1] not in ctx["inputs"]:
                raise SystemExit(f"action.yml: ${{{{ {expr} }}}}: no such input")
            return ctx["inputs"][parts[1]]
        if expr in ("github.action_path", "github.action_ref"):
            return ctx[expr]
        if len(parts) == 4 and parts[0] == "steps" and parts[2] == "outputs":
            return ctx["steps"].get(parts[1], {}).get(parts[3], "")
        raise SystemExit(f"action.yml: ${{{{ {expr} }}}}: an expression this test does not know")

    return EXPR.sub(one, str(text))


def read_kv(path):
    """Reads a GITHUB_OUTPUT or GITHUB_ENV file: name=value lines and name<<DELIMITER blocks."""
    out = {}
    with open(path) as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line:
            continue
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            value = []
            while i < len(lines) and lines[i] != delim:
                value.append(lines[i])
                i += 1
            if i == len(lines):
                raise SystemExit(f"{path}: {name}: no closing {delim}")
            i += 1
            out[name] = "\n".join(value)
        elif "=" in line:
            name, value = line.split("=", 1)
            out[name] = value
        else:
            raise SystemExit(f"{path}: bad line {line!r}")
    return out


def go_version_of(gomod):
    with open(gomod) as f:
        for line in f:
            m = re.match(r"^go\s+(\S+)", line)
            if m:
                return m.group(1)
    raise SystemExit(f"{gomod}: no go line")


class Log:
    """The job's log: what the steps print, with workflow commands as the runner reads them."""

    def __init__(self, path):
        self.f = open(path, "w") if path else None
        self.masks = set()
        self.stop = None
        self.lines = []  # the lines that are not workflow commands, as the runner would show them

    def write(self, line):
        sys.stdout.write(line + "\n")
        if self.f:
            self.f.write(line + "\n")
        if self.stop is not None:
            if line == f"::{self.stop}::":
                self.stop = None
            else:
                self.lines.append(line)
            return
        if line.startswith("::add-mask::"):
            self.masks.add(line[len("::add-mask::"):])
        elif line.startswith("::stop-commands::"):
            self.stop = line[len("::stop-commands::"):]
        else:
            self.lines.append(line)


def run_step(step, ctx, runner, log):
    env = dict(os.environ)
    env.update(runner["env"])
    env["PATH"] = os.pathsep.join(runner["path"] + [os.environ["PATH"]])
    files = {}
    for name in ("GITHUB_OUTPUT", "GITHUB_ENV", "GITHUB_PATH"):
        fd, files[name] = tempfile.mkstemp(prefix=name.lower() + "-", dir=runner["temp"])
        os.close(fd)
        env[name] = files[name]
    env.update(
        GITHUB_ACTIONS="true",
        CI="true",
        GITHUB_ACTION_PATH=ctx["github.action_path"],
        GITHUB_WORKSPACE=runner["workspace"],
        RUNNER_TEMP=runner["temp"],
    )
    for k, v in (step.get("env") or {}).items():
        env[k] = evaluate(v, ctx)
    if step.get("shell") != "bash":
        raise SystemExit(f"action.yml: step {step.get('name')!r}: want shell: bash, got {step.get('shell')!r}")
    fd, script = tempfile.mkstemp(suffix=".sh", dir=runner["temp"])
    with os.fdopen(fd, "w") as f:
        f.write(evaluate(step["run"], ctx))
    p = subprocess.Popen(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", script],
        cwd=os.path.join(runner["workspace"], evaluate(step.get("working-directory", "."), ctx)),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    for line in p.stdout:
        log.write(line.rstrip("\n"))
    if p.wait() != 0:
        return f"step {step.get('name')!r} exited with {p.returncode}"
    if step.get("id"):
        ctx["steps"][step["id"]] = read_kv(files["GITHUB_OUTPUT"])
    runner["env"].update(read_kv(files["GITHUB_ENV"]))
    with open(files["GITHUB_PATH"]) as f:
        runner["path"] = [l for l in f.read().split("\n") if l][::-1] + runner["path"]
    return None


def setup_go(step, ctx, action_dir, log):
    if not step["uses"].startswith("actions/setup-go@"):
        raise SystemExit(f"action.yml: uses: {step['uses']}: a step this test cannot run")
    w = {k: evaluate(v, ctx) for k, v in (step.get("with") or {}).items()}
    gomod = os.path.join(action_dir, "go.mod")
    if os.path.realpath(w.get("go-version-file", "")) != os.path.realpath(gomod):
        raise SystemExit(f"action.yml: setup-go: go-version-file is {w.get('go-version-file')!r}, want the action's go.mod")
    want = go_version_of(gomod)
    have = subprocess.run(["go", "env", "GOVERSION"], capture_output=True, text=True, check=True).stdout.strip()
    # setup-go installs the go line's version; the go here must be that one or newer (Go's toolchain rule).
    if tuple(map(int, re.findall(r"\d+", have)[:3])) < tuple(map(int, re.findall(r"\d+", want)[:3])):
        raise SystemExit(f"setup-go: go.mod wants go {want}, this machine has {have}")
    log.write(f"(setup-go: go.mod wants {want}; using this machine's {have})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ref", default="")
    ap.add_argument("--action-path")
    ap.add_argument("--outputs")
    ap.add_argument("--log")
    ap.add_argument("--must-mask", action="append", default=[])
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("action_dir")
    ap.add_argument("workspace")
    ap.add_argument("inputs", nargs="*")
    a = ap.parse_intermixed_args()

    with open(os.path.join(a.action_dir, "action.yml")) as f:
        action = yaml.safe_load(f)
    if action["runs"]["using"] != "composite":
        raise SystemExit("action.yml: runs.using: want composite")
    inputs = {k: str((v or {}).get("default", "")) for k, v in (action.get("inputs") or {}).items()}
    for kv in a.inputs:
        k, v = kv.split("=", 1)
        if k not in inputs:
            raise SystemExit(f"no input {k!r} in action.yml")
        inputs[k] = v

    ctx = {
        "inputs": inputs,
        "github.action_path": os.path.abspath(a.action_path or a.action_dir),
        "github.action_ref": a.ref,
        "steps": {},
    }
    temp = tempfile.mkdtemp(prefix="runner-temp-")
    runner = {
        "workspace": os.path.abspath(a.workspace),
        "temp": temp,
        "env": dict(kv.split("=", 1) for kv in a.env),
        "path": [],
    }
    log = Log(a.log)
    failed = None
    for step in action["runs"]["steps"]:
        if "if" in step:
            raise SystemExit(f"action.yml: step {step.get('name')!r}: if: is not something this test runs")
        if "uses" in step:
            setup_go(step, ctx, a.action_dir, log)
        else:
            failed = run_step(step, ctx, runner, log)
            if failed:
                break

    # A failed run's log must keep the secrets too.
    for v in a.must_mask:
        shown = [l for l in log.lines if v in l]
        if shown:
            print(f"recipes_action: a secret shows in the log: {shown[0]!r}", file=sys.stderr)
            sys.exit(3)
        if v not in log.masks:
            print("recipes_action: a secret was never masked", file=sys.stderr)
            sys.exit(3)
    if failed:
        print(f"recipes_action: {failed}", file=sys.stderr)
        sys.exit(1)
    outputs = {k: evaluate(v["value"], ctx) for k, v in (action.get("outputs") or {}).items()}
    if a.outputs:
        with open(a.outputs, "w") as f:
            json.dump({"outputs": outputs, "path": runner["path"], "env": runner["env"]}, f)


if __name__ == "__main__":
    try:
        main()
    except SystemExit as e:
        if isinstance(e.code, str):  # an error in action.yml or in this test's use of it
            print(f"recipes_action: {e.code}", file=sys.stderr)
            sys.exit(2)
        raise
