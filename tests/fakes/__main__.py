"""Run one provider fake on its own: ``python -m tests.fakes aliyun --port 0 --latency 0.02``.

Prints ``READY <url>`` once listening and serves until killed (used by the benchmark).
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from tests.fakes.providers import AliyunSmsFake, DingtalkFake, TencentSmsFake, WechatFake
from tests.fakes.zwdd import ZwddPlatformFake

FAKES = {
    "aliyun": AliyunSmsFake,
    "tencent": TencentSmsFake,
    "wechat": WechatFake,
    "dingtalk": DingtalkFake,
    "zwdd": ZwddPlatformFake,
}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("provider", choices=sorted(FAKES))
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    options = parser.parse_args()
    fake: Any = FAKES[options.provider](latency=options.latency).start(options.port)
    print(f"READY {fake.url}", flush=True)
    try:
        while True:
            time.sleep(5)
            sys.stderr.write(f"sent {len(fake.sent)} dup {len(fake.duplicates())}\n")
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
