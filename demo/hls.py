"""A sliding-window *live* HLS playlist over the committed demo segments.

The demo has no streaming origin, so this view plays one: it loops the six 2-second segments
in ``static/demo/hls/`` (see the README there) as if they were being produced right now.
The media sequence number follows the wall clock, ``floor(unix_time / SEGMENT_SECONDS)``,
so every viewer and every reload agrees on what is "live"; where the loop wraps back to the
first segment the playlist carries ``#EXT-X-DISCONTINUITY`` (timestamps jump back), and
``#EXT-X-DISCONTINUITY-SEQUENCE`` counts the wraps that have slid out of the window. There is
no ``#EXT-X-ENDLIST``: players keep reloading it like any live stream.

Segments are served as static files (WhiteNoise/nginx); only this tiny playlist is dynamic.
"""

from __future__ import annotations

import math
import time

from django.http import HttpRequest, HttpResponse
from django.templatetags.static import static
from django.views.decorators.http import require_safe

SEGMENT_SECONDS = 2  # every committed segment lasts exactly this long
SEGMENT_COUNT = 6  # seg0.ts … seg5.ts
WINDOW = 4  # segments listed in the live playlist
SEGMENT_PATH = "demo/hls/seg{}.ts"
PLAYLIST_CONTENT_TYPE = "application/vnd.apple.mpegurl"


def live_playlist_text(*, now: float) -> str:
    """The playlist at unix time ``now``: the last ``WINDOW`` segments finished by then."""
    current = math.floor(now / SEGMENT_SECONDS)  # the segment being "recorded" right now
    first = current - WINDOW
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{SEGMENT_SECONDS}",
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
        # Every loop of the sample is one discontinuity "epoch": epoch(n) = n // COUNT.
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{first // SEGMENT_COUNT}",
    ]
    for number in range(first, current):
        index = number % SEGMENT_COUNT
        if index == 0 and number != first:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXTINF:{SEGMENT_SECONDS:.3f},")
        lines.append(static(SEGMENT_PATH.format(index)))
    return "\n".join(lines) + "\n"


@require_safe
def live_playlist(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(live_playlist_text(now=time.time()), content_type=PLAYLIST_CONTENT_TYPE)
    response["Cache-Control"] = "no-cache"
    return response
