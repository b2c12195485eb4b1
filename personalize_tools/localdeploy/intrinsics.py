"""CloudFormation intrinsic functions and conditions, resolved the way CloudFormation does for this app.

Supported: Ref (resources, parameters, pseudo parameters), Fn::GetAtt, Fn::Join, Fn::Sub (both
forms), Fn::Select, Fn::Split, Fn::If with the template's Conditions (Fn::Equals, Fn::And, Fn::Or,
Fn::Not, Condition), Fn::GetAZs, Fn::FindInMap and Fn::Base64. Anything else raises
UnsupportedIntrinsicError naming the resource and the function, before the deploy touches anything.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Protocol

from personalize_tools.localdeploy.errors import ResolutionError, UnsupportedIntrinsicError


class _NoValue:
    """AWS::NoValue: the property or list item that resolves to it is dropped."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE: Final = _NoValue()

SUPPORTED_FUNCTIONS: Final = (
    "Ref",
    "Fn::GetAtt",
    "Fn::Join",
    "Fn::Sub",
    "Fn::Select",
    "Fn::Split",
    "Fn::If",
    "Fn::Equals",
    "Fn::And",
    "Fn::Or",
    "Fn::Not",
    "Fn::GetAZs",
    "Fn::FindInMap",
    "Fn::Base64",
)
CONDITION_FUNCTIONS: Final = frozenset({"Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Condition"})
SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
AVAILABILITY_ZONE_SUFFIXES = ("a", "b", "c")


@dataclass(frozen=True)
class StackContext:
    """What the pseudo parameters resolve to for one stack."""

    stack_name: str
    stack_id: str
    account: str
    region: str
    partition: str = "aws"
    url_suffix: str = "amazonaws.com"

    def pseudo_parameters(self) -> dict[str, Any]:
        return {
            "AWS::AccountId": self.account,
            "AWS::Region": self.region,
            "AWS::Partition": self.partition,
            "AWS::StackName": self.stack_name,
            "AWS::StackId": self.stack_id,
            "AWS::URLSuffix": self.url_suffix,
            "AWS::NotificationARNs": [],
            "AWS::NoValue": NO_VALUE,
        }


class ReferenceSource(Protocol):
    """Values of resources: what Ref and Fn::GetAtt return once a resource exists."""

    def ref(self, logical_id: str) -> Any: ...

    def get_att(self, logical_id: str, attribute: str) -> Any: ...


def function_name(value: Any, *, in_condition: bool = False) -> str | None:
    """The intrinsic a value calls, if it is one: a one-key mapping whose key is Ref or Fn::*.

    A one-key {"Condition": ...} is a function only inside Conditions; elsewhere (an IAM statement's
    Condition block, say) it is data.
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    (key,) = value.keys()
    if key == "Ref" or str(key).startswith("Fn::") or (in_condition and key == "Condition"):
        return str(key)
    return None


def referenced_names(value: Any) -> set[str]:
    """Every name a value refers to through Ref, Fn::GetAtt or Fn::Sub, found without resolving anything.

    The caller keeps the ones that are resources: they are the value's implicit dependencies.
    """
    names: set[str] = set()
    function = function_name(value)
    if function == "Ref" and isinstance(value["Ref"], str):
        names.add(value["Ref"])
    elif function == "Fn::GetAtt":
        target = value["Fn::GetAtt"]
        if isinstance(target, str):
            names.add(target.split(".", 1)[0])
        elif isinstance(target, list) and target and isinstance(target[0], str):
            names.add(target[0])
    elif function == "Fn::Sub":
        argument = value["Fn::Sub"]
        text, variables = (argument, {}) if isinstance(argument, str) else (argument[0], argument[1])
        for variable in SUB_VARIABLE.findall(text):
            if not variable.startswith("!") and variable not in variables:
                names.add(variable.split(".", 1)[0])
        names |= referenced_names(variables)
    elif isinstance(value, Mapping):
        for item in value.values():
            names |= referenced_names(item)
    elif isinstance(value, list):
        for item in value:
            names |= referenced_names(item)
    return names


def unsupported_function(value: Any, *, in_condition: bool = False) -> str | None:
    """The first intrinsic in `value` outside the supported set, so a deploy can refuse before it starts."""
    function = function_name(value, in_condition=in_condition)
    allowed = (*SUPPORTED_FUNCTIONS, "Condition") if in_condition else SUPPORTED_FUNCTIONS
    if function is not None and function not in allowed:
        return function
    children = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else []
    for child in children:
        found = unsupported_function(child, in_condition=in_condition)
        if found is not None:
            return found
    return None


def _text(value: Any, where: str, function: str) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise ResolutionError(f"{where}: {function} needs a string here, got {value!r}")


class Resolver:
    """Resolves one template's values; `references` supplies resources' Ref and Fn::GetAtt values."""

    def __init__(
        self,
        template: Mapping[str, Any],
        context: StackContext,
        *,
        parameters: Mapping[str, str] | None = None,
        references: ReferenceSource | None = None,
    ) -> None:
        self.template = template
        self.context = context
        self.parameters = dict(parameters or {})
        self.references = references
        self._conditions: dict[str, bool] = {}
        self._pseudo = context.pseudo_parameters()

    # --- conditions ---------------------------------------------------------------------------

    def condition(self, name: str, where: str | None = None) -> bool:
        """The value of one named condition (evaluated once; conditions may refer to each other)."""
        if name in self._conditions:
            return self._conditions[name]
        definitions = self.template.get("Conditions", {})
        if name not in definitions:
            raise ResolutionError(f"{where or 'template'}: condition {name} is not defined in Conditions")
        value = self._evaluate(definitions[name], f"condition {name}")
        self._conditions[name] = value
        return value

    def is_active(self, logical_id: str) -> bool:
        """Whether a resource (or output) exists under the template's conditions."""
        resource = self.template.get("Resources", {}).get(logical_id, {})
        name = resource.get("Condition")
        return True if name is None else self.condition(name, f"resource {logical_id}")

    def _evaluate(self, value: Any, where: str) -> bool:
        function = function_name(value, in_condition=True)
        if function is None:
            if isinstance(value, bool):
                return value
            raise ResolutionError(f"{where}: expected a condition function, got {value!r}")
        argument = value[function]
        if function == "Condition":
            return self.condition(argument, where)
        if function == "Fn::Equals":
            left, right = (self.resolve(item, where) for item in argument)
            return _text(left, where, function) == _text(right, where, function)
        if function == "Fn::And":
            return all(self._evaluate(item, where) for item in argument)
        if function == "Fn::Or":
            return any(self._evaluate(item, where) for item in argument)
        if function == "Fn::Not":
            return not self._evaluate(argument[0], where)
        raise UnsupportedIntrinsicError(where, function)

    # --- values -------------------------------------------------------------------------------

    def resolve(self, value: Any, where: str) -> Any:
        """A fully resolved copy of `value`; AWS::NoValue entries are dropped from mappings and lists.

        `where` names the template location ("resource DataBucket", "output DataLocation") in errors.
        """
        function = function_name(value)
        if function is not None:
            return self._call(function, value[function], where)
        if isinstance(value, Mapping):
            resolved = {key: self.resolve(item, where) for key, item in value.items()}
            return {key: item for key, item in resolved.items() if item is not NO_VALUE}
        if isinstance(value, list):
            return [item for item in (self.resolve(entry, where) for entry in value) if item is not NO_VALUE]
        return value

    def _call(self, function: str, argument: Any, where: str) -> Any:
        if function == "Ref":
            return self._ref(self.resolve(argument, where), where)
        if function == "Fn::GetAtt":
            return self._get_att(argument, where)
        if function == "Fn::Join":
            separator, items = argument
            parts = self.resolve(items, where)
            return str(separator).join(_text(part, where, function) for part in parts)
        if function == "Fn::Sub":
            return self._sub(argument, where)
        if function == "Fn::Select":
            index, items = (self.resolve(item, where) for item in argument)
            if not isinstance(items, list) or not 0 <= int(index) < len(items):
                raise ResolutionError(f"{where}: Fn::Select index {index} is outside {items!r}")
            return items[int(index)]
        if function == "Fn::Split":
            separator, text = argument
            return _text(self.resolve(text, where), where, function).split(separator)
        if function == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name, where) else when_false, where)
        if function == "Fn::GetAZs":
            region = self.resolve(argument, where) or self.context.region
            return [f"{region}{suffix}" for suffix in AVAILABILITY_ZONE_SUFFIXES]
        if function == "Fn::FindInMap":
            return self._find_in_map(argument, where)
        if function == "Fn::Base64":
            text = _text(self.resolve(argument, where), where, function)
            return base64.b64encode(text.encode()).decode()
        if function in CONDITION_FUNCTIONS:
            return self._evaluate({function: argument}, where)
        raise UnsupportedIntrinsicError(where, function)

    def _ref(self, name: Any, where: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self.template.get("Parameters", {}):
            return self._parameter(name, where)
        if name in self.template.get("Resources", {}):
            if self.references is None:
                raise ResolutionError(f"{where}: Ref {name} needs the resource, which does not exist yet")
            return self.references.ref(name)
        raise ResolutionError(
            f"{where}: Ref {name} names no resource, parameter or pseudo parameter of this template"
        )

    def _parameter(self, name: str, where: str) -> Any:
        definition = self.template["Parameters"][name]
        kind = str(definition.get("Type", "String"))
        if kind.startswith("AWS::SSM::Parameter::Value"):
            raise ResolutionError(
                f"{where}: parameter {name} has type {kind}: its value lives in SSM Parameter Store, "
                "which the local deployer does not emulate"
            )
        if name in self.parameters:
            value: Any = self.parameters[name]
        elif "Default" in definition:
            value = definition["Default"]
        else:
            raise ResolutionError(f"{where}: parameter {name} has no default; pass --parameter {name}=VALUE")
        if kind.startswith("List<") or kind == "CommaDelimitedList":
            return value if isinstance(value, list) else [item.strip() for item in str(value).split(",")]
        return value

    def _get_att(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            logical_id, _, attribute = argument.partition(".")
        else:
            logical_id, attribute = argument[0], self.resolve(argument[1], where)
        if logical_id not in self.template.get("Resources", {}):
            raise ResolutionError(f"{where}: Fn::GetAtt names {logical_id}, which is not a resource")
        if self.references is None:
            raise ResolutionError(f"{where}: Fn::GetAtt {logical_id}.{attribute} needs the resource")
        return self.references.get_att(logical_id, str(attribute))

    def _sub(self, argument: Any, where: str) -> str:
        if isinstance(argument, str):
            text, variables = argument, {}
        else:
            text, variables = argument[0], self.resolve(argument[1], where)

        def substitute(match: re.Match[str]) -> str:
            variable = match.group(1)
            if variable.startswith("!"):
                return "${" + variable[1:] + "}"
            if variable in variables:
                value = variables[variable]
            elif "." in variable and variable.split(".", 1)[0] in self.template.get("Resources", {}):
                value = self._get_att(variable, where)
            else:
                value = self._ref(variable, where)
            return _text(value, where, "Fn::Sub")

        return SUB_VARIABLE.sub(substitute, text)

    def _find_in_map(self, argument: Any, where: str) -> Any:
        map_name, top, second = (self.resolve(item, where) for item in argument)
        try:
            return self.template["Mappings"][map_name][top][second]
        except KeyError:
            raise ResolutionError(
                f"{where}: Fn::FindInMap {map_name}/{top}/{second} is not in Mappings"
            ) from None
