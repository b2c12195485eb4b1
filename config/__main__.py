"""`python -m config` prints the JSON Schema of environment files (kept as config/schema.json)."""

import json

from config.model import json_schema

print(json.dumps(json_schema(), indent=2))
