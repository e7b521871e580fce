#!/usr/bin/env python3
"""Measures the TUI's input latency while the simulation runs at full speed.

Starts `edasim scenarios/flash-sale.toml` in a 120x40 pseudo-terminal, sets the speed
to max and runs it (from t = 0 again every eight samples, `g #0`), then presses `?` repeatedly and times how long the help overlay
takes to appear on the terminal (key written -> overlay bytes read), and `?` again to
close it. Prints the median, p90 and max over the samples.

Usage: python3 scripts/input-latency.py [path/to/edasim] [samples]
"""

import fcntl
import os
import pty
import select
import statistics
import struct
import sys
import termios
import time

BIN = sys.argv[1] if len(sys.argv) > 1 else "target/release/edasim"
SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 40
# Words only the help overlay shows. ratatui writes only the cells that change, so a
# word can come out split when a letter beneath happens to be the same: any one of
# these arriving whole is enough.
MARKS = [b"wheel", b"shift-tab", b"previous", b"step back one"]


def drain(fd, seconds):
    """Reads everything the program writes for `seconds`."""
    out = b""
    end = time.monotonic() + seconds
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return out
        r, _, _ = select.select([fd], [], [], left)
        if r:
            try:
                out += os.read(fd, 1 << 16)
            except OSError:
                return out


def wait_for(fd, needles, timeout=5.0):
    """Seconds until one of `needles` appears in the output, or None."""
    start = time.monotonic()
    buf = b""
    while time.monotonic() - start < timeout:
        r, _, _ = select.select([fd], [], [], 0.5)
        if r:
            buf += os.read(fd, 1 << 16)
            if any(n in buf for n in needles):
                return time.monotonic() - start
    return None


def main():
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["TERM"] = "xterm-256color"
        os.execv(BIN, [BIN, "scenarios/flash-sale.toml"])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    drain(fd, 1.0)
    os.write(fd, b"+++")  # 10x -> 100x -> 1000x -> max
    drain(fd, 0.3)
    lat = []
    for i in range(SAMPLES):
        if i % 8 == 0:
            # The whole run takes a few seconds at full speed: start it over from
            # t = 0 every eight samples so that every sample is taken while it runs.
            os.write(fd, b"g#0\r")
            drain(fd, 0.2)
            os.write(fd, b" ")
            drain(fd, 0.3)
        t0 = time.monotonic()
        os.write(fd, b"?")
        found = wait_for(fd, MARKS)
        if found is None:
            print(f"help overlay never appeared (sample {len(lat)})", file=sys.stderr)
            break
        lat.append(time.monotonic() - t0)
        drain(fd, 0.05)
        os.write(fd, b"?")
        drain(fd, 0.15)
    os.write(fd, b"q")
    drain(fd, 0.5)
    os.waitpid(pid, 0)
    if not lat:
        sys.exit(1)
    lat.sort()
    ms = [x * 1000 for x in lat]
    p90 = ms[int(0.9 * (len(ms) - 1))]
    print(
        f"input latency at full speed over {len(ms)} key presses: "
        f"median {statistics.median(ms):.1f} ms, p90 {p90:.1f} ms, max {ms[-1]:.1f} ms"
    )


if __name__ == "__main__":
    main()
