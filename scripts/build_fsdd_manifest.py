"""Build the checksum manifest that verifies downloaded Free Spoken Digit Dataset recordings.

Usage: python scripts/build_fsdd_manifest.py ../shared/data/fsdd/recordings

Writes ``src/intermodal/data/files/fsdd-sha256.txt.gz``: one ``<sha256>  <file name>`` line per
recording, sorted by name.
"""

from __future__ import annotations

import gzip
import hashlib
import sys
from pathlib import Path


def main(recordings: Path, target: Path) -> None:
    lines = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n"
        for path in sorted(recordings.glob("*.wav"))
    ]
    if not lines:
        raise SystemExit(f"no .wav files in {recordings}")
    with gzip.open(target, "wt", encoding="ascii") as stream:
        stream.writelines(lines)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(
        Path(sys.argv[1]),
        Path(__file__).parents[1] / "src/intermodal/data/files/fsdd-sha256.txt.gz",
    )
