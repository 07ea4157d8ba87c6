"""The content-addressed artifact store: checkpoint bytes filed under the sha256 of their content.

Uploads stream through `ArtifactWriter` (a temporary file in the store, hashed as it is written, renamed
into place only when the hash matches), so an artifact is never held in memory whole.
"""

import hashlib
import os
import re
import tempfile
from pathlib import Path

DIGEST = re.compile(r"^0x[0-9a-f]{64}$")


class ArtifactError(ValueError):
    pass


class ArtifactWriter:
    """One upload in progress: `write` chunks, then `commit` (checks the hash) or `abort`."""

    def __init__(self, target: Path, digest: str):
        self.target, self.digest = target, digest
        target.parent.mkdir(parents=True, exist_ok=True)
        self.file = tempfile.NamedTemporaryFile(dir=target.parent, prefix=".upload-", delete=False)
        self.hasher = hashlib.sha256()
        self.size = 0

    def write(self, chunk: bytes) -> None:
        self.hasher.update(chunk)
        self.file.write(chunk)
        self.size += len(chunk)

    def commit(self) -> bool:
        """Rename into place after checking the hash; False when the artifact was there already."""
        self.file.close()
        actual = "0x" + self.hasher.hexdigest()
        if actual != self.digest:
            os.unlink(self.file.name)
            raise ArtifactError(f"content hashes to {actual}, not {self.digest}")
        if self.target.exists():
            os.unlink(self.file.name)
            return False
        os.replace(self.file.name, self.target)  # a reader never sees half a file
        return True

    def abort(self) -> None:
        self.file.close()
        if os.path.exists(self.file.name):
            os.unlink(self.file.name)


class ArtifactStore:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def path(self, digest: str) -> Path:
        if not DIGEST.match(digest):
            raise ArtifactError(f"artifact id must be 0x + 64 lowercase hex digits of sha256, got {digest!r}")
        return self.root / digest[2:4] / digest[2:]

    def writer(self, digest: str) -> ArtifactWriter:
        return ArtifactWriter(self.path(digest), digest)

    def put(self, digest: str, data: bytes) -> bool:
        """Store `data` under `digest` after checking the hash; returns False when it was already there."""
        writer = self.writer(digest)
        try:
            writer.write(data)
        except BaseException:
            writer.abort()
            raise
        return writer.commit()

    def exists(self, digest: str) -> bool:
        return self.path(digest).exists()
