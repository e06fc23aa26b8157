"""HTTP load for bench/share_lookup: servers started as subprocesses, wrk with a Lua script, its figures.

wrk (Debian package `wrk`) is the load generator; the Lua script picks a random existing key per request
from a tab-separated key file (`sfzh<TAB>xm`) and, in its `done` hook, prints one JSON line with the
request count, errors and latency percentiles (microseconds) that wrk measured.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

WRK_MARK = "WRK-RESULT "

LUA = r"""
-- args: mode keyfile token path
-- mode: datasette (GET <path><key>.json) | records (GET <path>?sfzh=<key>) | verify (POST <path>)
local keys, names = {}, {}
local mode, path
local counter = 0
local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  mode, path = args[1], args[4]
  for line in io.lines(args[2]) do
    local k, n = line:match("^([^\t]+)\t(.*)$")
    if k then
      keys[#keys + 1] = k
      names[#names + 1] = n
    end
  end
  math.randomseed(os.time() * 1000 + tid)
  if args[3] ~= "" then
    wrk.headers["Authorization"] = "Bearer " .. args[3]
  end
  if mode == "verify" then
    wrk.headers["Content-Type"] = "application/json"
  end
end

function request()
  local i = math.random(#keys)
  if mode == "datasette" then
    return wrk.format("GET", path .. keys[i] .. ".json")
  elseif mode == "verify" then
    counter = counter + 1
    local name = names[i]
    if counter % 2 == 0 then
      name = name .. "X"   -- half of the calls do not match
    end
    return wrk.format("POST", path, nil, '{"items":{"sfzh":"' .. keys[i] .. '","xm":"' .. name .. '"}}')
  end
  return wrk.format("GET", path .. "?sfzh=" .. keys[i])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK-RESULT {"requests":%d,"duration_us":%d,"bytes":%d,"non2xx":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"timeout":%d,"mean_us":%.1f,"p50_us":%d,"p90_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def wrk_path() -> str | None:
    return shutil.which("wrk")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")


def parse_wrk(out: str) -> dict:
    """Requests/sec and p99 from wrk's own summary text, plus the exact figures of the Lua `done` hook."""
    result: dict = {}
    for line in out.splitlines():
        if line.startswith(WRK_MARK):
            result.update(json.loads(line[len(WRK_MARK) :]))
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    result["wrk_rps_text"] = float(m.group(1)) if m else None
    m = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    result["wrk_p99_text_ms"] = _ms(m.group(1)) if m else None
    if "requests" not in result:
        raise RuntimeError(f"wrk printed no result:\n{out[-2000:]}")
    secs = result["duration_us"] / 1e6
    result["rps"] = result["requests"] / secs if secs else 0.0
    result["mean_ms"] = result["mean_us"] / 1000
    result["p50_ms"] = result["p50_us"] / 1000
    result["p90_ms"] = result["p90_us"] / 1000
    result["p99_ms"] = result["p99_us"] / 1000
    result["errors"] = sum(result[k] for k in ("non2xx", "connect", "read", "write", "timeout"))
    return result


def run_wrk(
    url: str, mode: str, keyfile: Path, token: str, path: str, seconds: int, script: Path, conns: int
) -> dict:
    """One wrk run: `wrk -t2 -c<conns> -d<seconds>s --latency -s script URL -- mode keyfile token path`."""
    cmd = [
        wrk_path() or "wrk",
        "-t2",
        f"-c{conns}",
        f"-d{seconds}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(script),
        url,
        "--",
        mode,
        str(keyfile),
        token,
        path,
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"wrk exited {proc.returncode}: {proc.stderr[-1000:]}")
    result = parse_wrk(proc.stdout)
    result["command"] = " ".join([*cmd[:10], "…"])
    return result


@dataclass
class Server:
    """A server subprocess in its own process group, stopped by that group's id (never by name)."""

    name: str
    cmd: list[str]
    env: dict
    port: int
    ready_path: str
    log_file: Path
    proc: subprocess.Popen | None = None
    extra: dict = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> None:
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        out = self.log_file.open("w")
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited {self.proc.returncode}:\n{self.log_file.read_text()[-2000:]}"
                )
            try:
                with urllib.request.urlopen(self.base + self.ready_path, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{self.name} did not answer {self.ready_path} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)

    def pids(self) -> list[int]:
        """The server process and its children (granian's worker), for CPU accounting."""
        if self.proc is None:
            return []
        found = [self.proc.pid]
        for child in Path("/proc").iterdir():
            if not child.name.isdigit():
                continue
            try:
                stat = (child / "stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[1]) in found:  # ppid
                found.append(int(child.name))
        return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU seconds of these processes (from /proc), to show who used the cores."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def http(method: str, url: str, token: str = "", body: dict | None = None) -> tuple[int, dict]:
    """One request with the standard library; the body parsed as JSON."""
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
