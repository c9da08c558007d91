"""Fill deploy/nginx-rtmp.conf (the RTMP ingest and HLS origin) for make serve and the tests.

    python scripts/rtmp_config.py DIR --rtmp-port 1935 --http-port 8088 \
        --hook-base http://127.0.0.1:8080/streaming/hooks --media-dir MEDIA

Writes DIR/nginx-rtmp.conf; HLS goes to MEDIA/hls, recordings to MEDIA/recordings, and the
portal's replays (written by its worker) are served from MEDIA/replays. The hook secret is
STREAM_HOOK_SECRET from the environment.
"""

from __future__ import annotations

import argparse
import os
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = "/usr/lib/nginx/modules"
WORKER_USER = "www-data"


def rtmp_conf(
    *,
    folder: Path,
    rtmp_listen: str,
    http_listen: str,
    hook_base: str,
    hook_secret: str,
    media_dir: Path,
    modules: str = MODULES,
) -> str:
    """The template with its placeholders filled (and the folders it names made)."""
    if not hook_secret or not hook_secret.isalnum():
        raise SystemExit("STREAM_HOOK_SECRET must be set (letters and digits only)")
    user_line = ""
    for sub in ("hls", "recordings", "replays"):
        (media_dir / sub).mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        # nginx as root runs its workers as www-data: they write the HLS fragments and
        # the recordings (the portal's worker writes the replays, nginx only reads them)
        user_line = f"user {WORKER_USER};"
        for sub in ("hls", "recordings"):
            shutil.chown(media_dir / sub, user=WORKER_USER)
    for sub in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (folder / "rtmp-temp" / sub).mkdir(parents=True, exist_ok=True)
    values = {
        "MODULES": modules,
        "RUN_DIR": str(folder),
        "LOG_DIR": str(folder),
        "USER_LINE": user_line,
        "RTMP_LISTEN": rtmp_listen,
        "RTMP_PORT": rtmp_listen.rpartition(":")[2],
        "HTTP_LISTEN": http_listen,
        "HOOK_BASE": hook_base.rstrip("/"),
        "HOOK_SECRET": hook_secret,
        "HLS_DIR": str(media_dir / "hls"),
        "RECORD_DIR": str(media_dir / "recordings"),
        "MEDIA_PARENT": str(media_dir),
    }
    text = (ROOT / "deploy" / "nginx-rtmp.conf").read_text(encoding="utf-8")
    for name, value in values.items():
        text = text.replace(f"@{name}@", value)
    if "@" in text.replace("@@", ""):
        leftover = [w for w in text.split() if w.startswith("@") and w.endswith("@")]
        if leftover:
            raise SystemExit(f"deploy/nginx-rtmp.conf: unfilled placeholders {leftover}")
    return text


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder", type=Path)
    parser.add_argument("--rtmp-port", required=True)
    parser.add_argument("--http-port", required=True)
    parser.add_argument("--hook-base", required=True)
    parser.add_argument("--media-dir", type=Path, required=True)
    args = parser.parse_args()
    folder: Path = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    conf = rtmp_conf(
        folder=folder,
        rtmp_listen=str(args.rtmp_port),
        http_listen=str(args.http_port),
        hook_base=args.hook_base,
        hook_secret=os.environ.get("STREAM_HOOK_SECRET", ""),
        media_dir=args.media_dir.resolve(),
    )
    (folder / "nginx-rtmp.conf").write_text(conf, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
