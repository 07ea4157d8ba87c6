"""The content-addressed artifact store: checkpoint bytes filed under the sha256 of their content."""

import hashlib
import os
import re
import tempfile
from pathlib import Path

DIGEST = re.compile(r"^0x[0-9a-f]{64}$")


class ArtifactError(ValueError):
    pass


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if not DIGEST.match(digest):
            raise ArtifactError(f"artifact id must be 0x + 64 lowercase hex digits of sha256, got {digest!r}")
        return self.root / digest[2:4] / digest[2:]

    def put(self, digest: str, data: bytes) -> bool:
        """Store `data` under `digest` after checking the hash; returns False when it was already there."""
        target = self.path(digest)
        actual = "0x" + hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise ArtifactError(f"content hashes to {actual}, not {digest}")
        if target.exists():
            return False
        target.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename, so a reader never sees half a file.
        with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
            tmp.write(data)
        os.replace(tmp.name, target)
        return True

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()
