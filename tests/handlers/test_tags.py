"""The handlers refuse tags Personalize would refuse, before any call, with the config's own sentences.

Both read `domain.tag_problems`: the same bad tag gets the same words at synth (config) and at deploy
(a template written by hand, or an older synth).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config import ConfigError, load_environment
from lambda_handlers.personalize import domain
from lambda_handlers.personalize.errors import InvalidPropertyError
from personalize_tools.emulator import EmulatorServer

from .support import drive, event


@pytest.mark.parametrize("tags", [{"aws:owner": "me"}, {"owner": "AWS:team"}])
def test_reserved_prefix_is_refused_as_in_config(
    handlers: EmulatorServer, tmp_path: Path, tags: dict[str, str]
) -> None:
    expected = domain.tag_problems(tags)[0]
    properties = {"Tags": [{"Key": key, "Value": value} for key, value in tags.items()]}

    with pytest.raises(InvalidPropertyError, match="Custom::PersonalizeDatasetGroup") as raised:
        drive(event("dataset_group_create", properties=properties))

    assert expected in str(raised.value)
    assert handlers.calls()["total"] == 0
    config = {"name_prefix": "pz", "domain": "ECOMMERCE", "data_source": {"bucket_key": "x/"}, "tags": tags}
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(ConfigError) as caught:
        load_environment("bad", config_dir=tmp_path)
    assert expected in str(caught.value)


def test_more_than_fifty_tags_is_refused(handlers: EmulatorServer) -> None:
    tags = [{"Key": f"k{index}", "Value": "v"} for index in range(domain.MAX_TAGS + 1)]

    with pytest.raises(InvalidPropertyError, match="51 tags; a resource can have at most 50"):
        drive(event("dataset_group_create", properties={"Tags": tags}))

    assert handlers.calls()["total"] == 0
