"""Generates the promfeed.v1 Python gRPC stubs from proto/ (or checks the committed ones).

Usage:
  python client/python/scripts/gen_proto.py           # regenerate into src/promfeed/v1/
  python client/python/scripts/gen_proto.py --check   # regenerate into a temp dir and diff

The stubs import each other as `promfeed.v1.*`, which is where they live in this package.
Requires grpcio-tools whose bundled protoc matches the protobuf runtime (see requirements.lock).
"""

from __future__ import annotations

import argparse
import difflib
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
PKG_ROOT = HERE.parent
REPO_ROOT = PKG_ROOT.parent.parent
PROTO_DIR = REPO_ROOT / "proto"
PROTO = "promfeed/v1/metric_feed.proto"
OUT_DIR = PKG_ROOT / "src"
GENERATED = ["metric_feed_pb2.py", "metric_feed_pb2.pyi", "metric_feed_pb2_grpc.py"]


def generate(out_dir: Path) -> None:
    """Runs grpc_tools.protoc on PROTO into out_dir/promfeed/v1/. Raises on protoc failure."""
    import grpc_tools
    from grpc_tools import protoc

    include = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        str(PROTO_DIR / PROTO),
    ]
    rc = protoc.main(args)
    if rc != 0:
        raise RuntimeError(f"protoc failed with exit code {rc}: {' '.join(args)}")


def check() -> int:
    """Returns 0 when the committed stubs equal freshly generated ones, else prints a diff."""
    with tempfile.TemporaryDirectory() as tmp:
        generate(Path(tmp))
        bad = 0
        for name in GENERATED:
            fresh = (Path(tmp) / "promfeed/v1" / name).read_text().splitlines(keepends=True)
            committed_path = OUT_DIR / "promfeed/v1" / name
            committed = (
                committed_path.read_text().splitlines(keepends=True)
                if committed_path.exists()
                else []
            )
            if fresh != committed:
                bad += 1
                sys.stdout.writelines(
                    difflib.unified_diff(committed, fresh, str(committed_path), f"generated/{name}")
                )
        if bad:
            print(f"gen_proto: {bad} stub file(s) differ from {PROTO}; run {Path(__file__).name}")
            return 1
        print(f"gen_proto: stubs match {PROTO}")
        return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="diff instead of writing")
    ns = parser.parse_args()
    if ns.check:
        return check()
    generate(OUT_DIR)
    print(f"gen_proto: wrote {', '.join(GENERATED)} to {OUT_DIR / 'promfeed/v1'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
