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
from personalize_tools.emulator import EmulatorServer, model

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
    tags = [{"Key": f"k{index}", "Value": "v"} for index in range(domain.MAX_TAGS)]

    with pytest.raises(InvalidPropertyError, match="50 tags; at most 49 \\(a resource can have at most 50"):
        drive(event("dataset_group_create", properties={"Tags": tags}))

    assert handlers.calls()["total"] == 0


@pytest.mark.parametrize(
    "text",
    ["plain", "a b", "a\u00a0b", "été", "東京", "x_.:/=+-@", "a\tb", "a\nb", "a\u0301", "a#b", "a\U0001f600"],
    ids=repr,
)
def test_tag_characters_agree_with_the_models_pattern(text: str) -> None:
    """`domain` cannot import the model (it ships in the Lambda asset); this keeps the two in step."""
    shapes = model.service_model().shape_for("Tag").members
    for part in ("tagKey", "tagValue"):
        allowed = bool(model.compile_pattern(shapes[part].metadata["pattern"]).fullmatch(text))
        refused = any("characters outside" in problem for problem in domain.tag_problems({text: text}))
        assert allowed is not refused, (part, text)


def test_a_tab_in_a_tag_value_is_refused_before_any_call(handlers: EmulatorServer) -> None:
    tags = [{"Key": "team", "Value": "data\tscience"}]

    with pytest.raises(InvalidPropertyError, match="has characters outside letters, digits, spaces"):
        drive(event("dataset_group_create", properties={"Tags": tags}))

    assert handlers.calls()["total"] == 0
