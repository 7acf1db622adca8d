"""Pre-encoded clips the simulated cameras stream (no live encoding per camera).

``ensure_clip`` encodes once per run directory with GStreamer's command-line tools
(Debian: gstreamer1.0-tools, -plugins-good for mp4mux/jpegenc, -plugins-ugly for
x264enc) and returns the cached file afterwards.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from pathlib import Path

from .errors import LabError

log = logging.getLogger(__name__)

H264_CLIP = "camlab-h264.mp4"
MJPEG_CLIP = "camlab-mjpeg.mkv"
_SECONDS = 3
_FPS = 10
_WIDTH, _HEIGHT = 320, 240

# SMPTE bars plus a running timestamp: visibly a test pattern, and frames differ so a
# decoder proves it received more than one key frame. key-int-max=_FPS puts an IDR every
# second, so a client that joins mid-clip decodes within a second.
_SOURCE = (
    f"videotestsrc num-buffers={_SECONDS * _FPS} pattern=smpte ! "
    f"video/x-raw,width={_WIDTH},height={_HEIGHT},framerate={_FPS}/1 ! "
    "timeoverlay halignment=center valignment=bottom font-desc=Sans,18 ! videoconvert"
)
_PIPELINES = {
    "h264": (
        H264_CLIP,
        _SOURCE + f" ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={_FPS} "
        "bitrate=256 ! video/x-h264,profile=constrained-baseline ! h264parse ! mp4mux",
    ),
    "mjpeg": (MJPEG_CLIP, _SOURCE + " ! jpegenc quality=70 ! matroskamux"),
}


def ensure_clip(run_dir: Path, codec: str = "h264") -> Path:
    """Return the path of the cached clip for ``codec`` in ``run_dir``, encoding it if absent.

    ``codec`` is ``"h264"`` (MP4, served with qtdemux) or ``"mjpeg"`` (Matroska).
    Raises :class:`LabError` if GStreamer is missing or the encode fails.
    """
    if codec not in _PIPELINES:
        raise LabError(f"unknown clip codec {codec!r}; expected one of {sorted(_PIPELINES)}")
    name, pipeline = _PIPELINES[codec]
    run_dir.mkdir(parents=True, exist_ok=True)
    out = run_dir / name
    if out.is_file() and out.stat().st_size > 0:
        return out
    gst = shutil.which("gst-launch-1.0")
    if gst is None:
        raise LabError(
            "gst-launch-1.0 not found: install gstreamer1.0-tools, gstreamer1.0-plugins-good "
            "and gstreamer1.0-plugins-ugly"
        )
    # Encode to a temporary name and rename, so a crash never leaves a truncated clip
    # that a later run would take for the cached one.
    tmp = out.with_name(f".{name}.{os.getpid()}.tmp")
    args = [gst, "-q", *pipeline.split(), "!", "filesink", f"location={tmp}"]
    try:
        proc = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        tmp.unlink(missing_ok=True)
        raise LabError(f"could not run {gst}: {exc}") from exc
    if proc.returncode != 0 or not tmp.is_file() or tmp.stat().st_size == 0:
        tmp.unlink(missing_ok=True)
        detail = (proc.stderr or proc.stdout).strip()[-500:]
        raise LabError(f"encoding the {codec} test clip failed (exit {proc.returncode}): {detail}")
    tmp.replace(out)
    log.info("encoded %s test clip %s (%d bytes)", codec, out, out.stat().st_size)
    return out
