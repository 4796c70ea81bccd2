"""`make run`: web server, Celery worker and beat in one foreground process; Ctrl-C stops all."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable


def main() -> int:
    port = os.environ.get("PORT", "8000")
    (ROOT / "var" / "celery").mkdir(parents=True, exist_ok=True)
    commands = {
        "web": [PY, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
        "worker": [
            PY,
            "-m",
            "celery",
            "-A",
            "crm_project",
            "worker",
            "--beat",
            "--loglevel=INFO",
            "--concurrency=2",
        ],
    }
    procs = {name: subprocess.Popen(cmd, cwd=ROOT) for name, cmd in commands.items()}
    print(
        f"\nXiaoWei CRM is running at http://127.0.0.1:{port}/admin/\n"
        "Demo logins (demo data only): tea_owner, tea_staff, salon_owner, salon_staff"
        " — password xiaowei-demo\nPress Ctrl-C to stop.\n",
        flush=True,
    )
    stopping = False

    def stop(*_args):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with {proc.returncode}; stopping.", flush=True)
                code = proc.returncode or 1
                stopping = True
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 15
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    print("Stopped.", flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
