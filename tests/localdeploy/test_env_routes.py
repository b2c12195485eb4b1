"""env.sh sends all three Personalize clients to the emulator: a fresh boto3 process, only the variables."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from personalize_tools.emulator import EmulatorServer
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.services import env_script

PROBE = """
import json, boto3
from botocore.exceptions import ClientError
answers = {}
for service, call in (
    ("personalize", lambda c: c.list_dataset_groups()),
    ("personalize-events", lambda c: c.put_users(datasetArn="arn:aws:personalize:us-east-1:1:dataset/x/USERS",
                                                 users=[{"userId": "u"}])),
    ("personalize-runtime", lambda c: c.get_recommendations(
        recommenderArn="arn:aws:personalize:us-east-1:1:recommender/x", userId="u")),
):
    client = boto3.client(service)
    try:
        call(client)
        answers[service] = [client.meta.endpoint_url, "ok"]
    except ClientError as error:
        answers[service] = [client.meta.endpoint_url, error.response["Error"]["Code"]]
print(json.dumps(answers))
"""


def test_env_sh_routes_events_and_runtime_to_the_emulator(emulator: EmulatorServer, moto_server: str) -> None:
    endpoints = Endpoints(personalize=emulator.url, aws=moto_server)
    script = env_script(endpoints)
    for name in ("AWS_ENDPOINT_URL_PERSONALIZE_EVENTS", "AWS_ENDPOINT_URL_PERSONALIZE_RUNTIME"):
        assert f"export {name}={emulator.url}" in script
    variables = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    variables |= endpoints.handler_environment()
    result = subprocess.run(
        [sys.executable, "-c", PROBE], env=variables, capture_output=True, text=True, timeout=60, check=True
    )
    answers = json.loads(result.stdout)
    assert answers == {
        "personalize": [emulator.url, "ok"],
        "personalize-events": [emulator.url, "ResourceNotFoundException"],
        "personalize-runtime": [emulator.url, "ResourceNotFoundException"],
    }
