"""The local stand-in for the CDK bootstrap bucket: file assets published into the state folder.

The CDK CLI uploads a stack's assets before deploying, and they stay in the bootstrap bucket, so a
rollback or a later delete can still use an older version. Locally an asset is copied from cdk.out
into `.personalize-local/assets/OBJECT_KEY` the first time a deploy needs it (handler code, data for
a BucketDeployment) and is found there afterwards, even once cdk.out has been synthesized anew.
"""

from __future__ import annotations

import shutil
import threading
import uuid
import zipfile
from pathlib import Path

from personalize_tools.localdeploy.assembly import StackArtifact


class AssetStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()

    def get(self, artifact: StackArtifact | None, object_key: str) -> Path | None:
        """The published asset for an object key (a folder for staged directories), publishing it first."""
        target = self.root / object_key
        with self._lock:
            if target.exists():
                return target
            asset = artifact.asset_for_key(object_key) if artifact else None
            if asset is None or not asset.source.exists():
                return None
            staging = self.root / f".{object_key}.{uuid.uuid4().hex}"
            self.root.mkdir(parents=True, exist_ok=True)
            if asset.source.is_dir():
                shutil.copytree(asset.source, staging)
            else:
                shutil.copyfile(asset.source, staging)
            staging.replace(target)
            return target

    def unpacked(self, archive: Path) -> Path:
        """A zip asset (Lambda code published as a file) extracted next to it, once."""
        target = archive.with_name(archive.name + ".d")
        with self._lock:
            if not target.exists():
                staging = archive.with_name(f".{archive.name}.{uuid.uuid4().hex}")
                with zipfile.ZipFile(archive) as opened:
                    opened.extractall(staging)
                staging.replace(target)
        return target

    def inline(self, name: str, source: str) -> Path:
        """A folder holding inline Lambda code (Code.ZipFile) as index.py."""
        target = self.root / f"inline-{name}-{uuid.uuid5(uuid.NAMESPACE_OID, source).hex[:12]}"
        with self._lock:
            target.mkdir(parents=True, exist_ok=True)
            (target / "index.py").write_text(source, encoding="utf-8")
        return target
