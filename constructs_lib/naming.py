"""Deterministic Personalize resource names that never collide.

A name is `PREFIX_SLUG-HASH`: the prefix says which environment owns it, the slug which construct,
and the hash covers the stack's name, the construct's path within the stack and every input whose
change means a new resource in Personalize (a new schema body, a new data location). So replacements
and second environments in one account never ask for a name that is taken.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from aws_cdk import Stack, Token
from constructs import Construct

from lambda_handlers.personalize.domain import NAME_MAX_LENGTH, SCOPE_DELIMITER, name_problem

HASH_LENGTH = 8


def fingerprint(scope: Construct, *inputs: Any) -> str:
    """A short stable hash of inputs; tokens are hashed in their resolved CloudFormation form.

    The path is taken within the stack, like logical ids: the same stack deployed by `cdk deploy` (a
    top-level stack) or by the pipeline (inside a Stage) derives the same names, so neither replaces them.
    """
    stack = Stack.of(scope)
    resolved = [stack.resolve(value) if Token.is_unresolved(value) else value for value in inputs]
    path_in_stack = scope.node.path.removeprefix(stack.node.path + "/")
    material = json.dumps([stack.stack_name, path_in_stack, *resolved], sort_keys=True, default=str)
    return hashlib.sha256(material.encode()).hexdigest()[:HASH_LENGTH]


def derived_name(scope: Construct, prefix: str, *inputs: Any) -> str:
    """`PREFIX_SLUG-HASH` within Personalize's 63-character limit; `_` ends the prefix
    (domain.SCOPE_DELIMITER), so the handler policy's `PREFIX_*` covers this environment only."""
    slug = re.sub(r"[^a-z0-9]+", "-", scope.node.id.lower()).strip("-") or "resource"
    room = NAME_MAX_LENGTH - len(prefix) - HASH_LENGTH - 2
    if room < 1:
        raise ValueError(f"name prefix {prefix!r} is too long to leave room for a construct slug and hash")
    name = f"{prefix}{SCOPE_DELIMITER}{slug[:room].strip('-')}-{fingerprint(scope, *inputs)}"
    problem = name_problem(name)
    if problem:
        raise ValueError(f"{scope.node.path}: derived {problem}")
    return name


def checked_name(scope: Construct, name: str, what: str) -> str:
    """A name the user chose, validated at synth with Personalize's own rules."""
    problem = name_problem(name, what)
    if problem:
        raise ValueError(f"{scope.node.path}: {problem}")
    return name
