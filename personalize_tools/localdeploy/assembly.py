"""Reading a synthesized cloud assembly (cdk.out): stack templates and the file assets they publish."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from personalize_tools.localdeploy.cdk_internals import (
    ASSET_MANIFEST_ARTIFACT,
    NESTED_ASSEMBLY_ARTIFACT,
    STACK_ARTIFACT,
)
from personalize_tools.localdeploy.errors import AssemblyError

UNKNOWN_ACCOUNT = "unknown-account"
UNKNOWN_REGION = "unknown-region"


@dataclass(frozen=True)
class FileAsset:
    """A file asset: a staged folder the CDK CLI would zip, or a file it uploads as it is."""

    asset_id: str
    source: Path


@dataclass(frozen=True)
class StackArtifact:
    """One stack of the assembly, with the assets its template refers to by object key."""

    artifact_id: str
    stack_name: str
    template: dict[str, Any]
    account: str | None
    region: str | None
    assets: dict[str, FileAsset] = field(default_factory=dict)  # by the object key the template uses

    def asset_for_key(self, object_key: str) -> FileAsset | None:
        return self.assets.get(object_key)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise AssemblyError(f"cannot read {path}: {error.strerror}") from error
    except json.JSONDecodeError as error:
        raise AssemblyError(f"{path} is not valid JSON: {error}") from error


def _environment(text: str) -> tuple[str | None, str | None]:
    account, _, region = text.removeprefix("aws://").partition("/")
    return (
        None if account in ("", UNKNOWN_ACCOUNT) else account,
        None if region in ("", UNKNOWN_REGION) else region,
    )


def _file_assets(directory: Path, manifest_file: str) -> dict[str, FileAsset]:
    manifest = _read_json(directory / manifest_file)
    assets: dict[str, FileAsset] = {}
    for asset_id, entry in manifest.get("files", {}).items():
        source = entry.get("source", {})
        if "path" not in source:
            continue  # built by an executable at publish time; nothing staged to read
        asset = FileAsset(asset_id, directory / source["path"])
        for destination in entry.get("destinations", {}).values():
            assets[str(destination["objectKey"])] = asset
    return assets


class CloudAssembly:
    """The stacks of one cdk.out folder, including those of nested assemblies (CDK Stages).

    Cross-stack references (Fn::ImportValue) are not resolved; each stack deploys on its own.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        if not (directory / "manifest.json").is_file():
            raise AssemblyError(
                f"{directory} holds no cloud assembly (no manifest.json); synthesize first "
                "(`cdk synth`, or make synth ENV=dev in a checkout of this project)"
            )
        self._stacks: dict[str, StackArtifact] = {}
        self._read(directory)

    def _read(self, directory: Path) -> None:
        artifacts: Mapping[str, Any] = _read_json(directory / "manifest.json").get("artifacts", {})
        asset_files = {
            artifact_id: artifact["properties"]["file"]
            for artifact_id, artifact in artifacts.items()
            if artifact.get("type") == ASSET_MANIFEST_ARTIFACT
        }
        for artifact_id, artifact in artifacts.items():
            properties = artifact.get("properties", {})
            if artifact.get("type") == NESTED_ASSEMBLY_ARTIFACT:
                self._read(directory / properties["directoryName"])
                continue
            if artifact.get("type") != STACK_ARTIFACT:
                continue
            assets: dict[str, FileAsset] = {}
            for dependency in artifact.get("dependencies", []):
                if dependency in asset_files:
                    assets.update(_file_assets(directory, asset_files[dependency]))
            account, region = _environment(str(artifact.get("environment", "")))
            stack_name = str(properties.get("stackName", artifact_id))
            self._stacks[stack_name] = StackArtifact(
                artifact_id=artifact_id,
                stack_name=stack_name,
                template=_read_json(directory / properties["templateFile"]),
                account=account,
                region=region,
                assets=assets,
            )

    def only_stack(self) -> StackArtifact:
        """The assembly's one stack, when no name was given."""
        if len(self._stacks) != 1:
            raise AssemblyError(
                f"{self.directory} has {len(self._stacks)} stacks ({', '.join(self._stacks) or 'none'}); "
                "name the one to deploy with --stack NAME"
            )
        return next(iter(self._stacks.values()))

    def stack(self, stack_name: str) -> StackArtifact:
        if stack_name not in self._stacks:
            raise AssemblyError(
                f"{self.directory} has no stack {stack_name} (it has: {', '.join(self._stacks) or 'none'}); "
                "synthesize that environment first"
            )
        return self._stacks[stack_name]
