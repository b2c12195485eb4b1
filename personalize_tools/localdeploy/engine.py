"""Deploying and destroying a synthesized stack in the local services, with CloudFormation's lifecycle.

A deploy walks the template's dependency graph (concurrently where CloudFormation would): it creates
what is new, updates what changed (custom resources get an Update event with OldResourceProperties),
and treats a new physical id as replacement, deleting the old resource in the cleanup phase after
every create and update succeeded. Resources gone from the template are deleted in that phase too.
When any create or update fails, the deploy rolls back what it changed: a first deploy deletes what it
created; an update sends each changed resource the rollback Update (old and new properties swapped),
then deletes what it created and the replacements it no longer needs.
"""

from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from personalize_tools.localdeploy.assembly import StackArtifact
from personalize_tools.localdeploy.assets import AssetStore
from personalize_tools.localdeploy.aws import Endpoints
from personalize_tools.localdeploy.catalog import (
    is_custom,
    is_emulated,
    is_personalize,
    skipped_resources,
    virtual_outcome,
)
from personalize_tools.localdeploy.cdk_custom import CDK_CUSTOM_TYPES
from personalize_tools.localdeploy.errors import (
    DeployFailedError,
    FailedResponseError,
    LocalDeployError,
    ResolutionError,
    StateError,
    TemplateError,
    UnsupportedIntrinsicError,
    describe_error,
)
from personalize_tools.localdeploy.events import SKIPPED, STACK_TYPE, EventSink, StackEvent
from personalize_tools.localdeploy.graph import Interruption, reverse, run_graph, topological_order
from personalize_tools.localdeploy.intrinsics import (
    Resolver,
    StackContext,
    referenced_names,
    unsupported_function,
)
from personalize_tools.localdeploy.native import NATIVE_TYPES
from personalize_tools.localdeploy.provider import (
    CustomResourceProvider,
    LambdaRuntime,
    ProviderSetup,
    cloudformation_strings,
    default_setup,
    discover_setup,
)
from personalize_tools.localdeploy.resources import DeployContext, Operation, Outcome, ResourceType
from personalize_tools.localdeploy.state import ResourceRecord, StackState, StateStore

ChangeKind = Literal["create", "update", "replace", "update_failed"]


@dataclass(frozen=True)
class DeployOptions:
    """Local knobs. `query_interval` shortens the Provider's is_complete interval (never lengthens it)."""

    query_interval: float = 1.0
    max_workers: int = 8
    handler_processes: int = 4
    parameters: Mapping[str, str] = field(default_factory=dict)
    watch_service_status: bool = True
    handler_module: str | None = None  # serve every Custom::Personalize* resource with this module instead


@dataclass(frozen=True)
class Change:
    """One thing a deploy did, for rollback: `before` is the prior record (for a create, the resource of
    another type the logical id held), `after` what replaced it."""

    kind: ChangeKind
    logical_id: str
    before: ResourceRecord | None
    after: ResourceRecord


def dependency_graph(template: Mapping[str, Any], active: Iterable[str] | None = None) -> dict[str, set[str]]:
    """Each resource's prerequisites: what it refers to (Ref, Fn::GetAtt, Fn::Sub) and its DependsOn."""
    resources: Mapping[str, Any] = template.get("Resources", {})
    included = set(resources if active is None else active)
    graph: dict[str, set[str]] = {}
    for logical_id in included:
        resource = resources[logical_id]
        depends_on = resource.get("DependsOn", [])
        names = referenced_names(resource.get("Properties", {})) | set(
            [depends_on] if isinstance(depends_on, str) else depends_on
        )
        graph[logical_id] = {name for name in names if name in included and name != logical_id}
    return graph


class _References:
    """What Ref and Fn::GetAtt see: the records as they stand at this moment of the run."""

    def __init__(self, records: Mapping[str, ResourceRecord]) -> None:
        self.records = records

    def _record(self, logical_id: str, what: str) -> ResourceRecord:
        record = self.records.get(logical_id)
        if record is None or record.physical_id is None:
            raise ResolutionError(f"{what} {logical_id}: that resource does not exist (yet)")
        return record

    def ref(self, logical_id: str) -> Any:
        return self._record(logical_id, "Ref").physical_id

    def get_att(self, logical_id: str, attribute: str) -> Any:
        record = self._record(logical_id, "Fn::GetAtt")
        if attribute not in record.attributes:
            where = " (skipped locally)" if record.skipped else ""
            known = ", ".join(sorted(record.attributes)) or "none"
            raise ResolutionError(
                f"Fn::GetAtt {logical_id}.{attribute}: {record.resource_type}{where} has no attribute "
                f"{attribute} here (it has: {known})"
            )
        return record.attributes[attribute]


# Native types whose generated name is their physical id and whose delete needs nothing else: what a
# destroy deletes of a killed run's unrecorded intents.
DELETED_BY_NAME = frozenset({"AWS::S3::Bucket", "AWS::IAM::Role"})


class _Run:
    """State shared by the operations of one deploy or destroy: records, events, handlers, persistence."""

    def __init__(self, deployer: LocalDeployer, state: StackState, artifact: StackArtifact | None) -> None:
        self.deployer = deployer
        self.options = deployer.options
        self.state = state
        self.artifact = artifact
        self.records: dict[str, ResourceRecord] = dict(state.resources)
        self.retired: list[ResourceRecord] = list(state.retired)
        self.lock = threading.Lock()
        self.cancel = threading.Event()
        self.stack = StackContext(state.stack_name, state.stack_id, state.account, state.region)
        self.context = DeployContext(
            endpoints=deployer.endpoints,
            stack=self.stack,
            artifact=artifact,
            events=deployer.events,
            query_interval=self.options.query_interval,
            watch_service_status=self.options.watch_service_status,
            cancel=self.cancel,
            assets=AssetStore(deployer.store.root / "assets"),
        )
        self.context.inherited = {lid: intent["physical_id"] for lid, intent in state.intents.items()}
        self.context.intents = dict(self.context.inherited)
        self.context.remember = self.remember
        self.runtime = LambdaRuntime(
            deployer.endpoints.handler_environment(),
            deployer.store.logs_dir / f"{state.stack_name}.handlers.log",
            self.options.handler_processes,
            assume_role=deployer.endpoints.assume_role,
        )
        self.setups: dict[str, ProviderSetup] = {}
        self.provider = CustomResourceProvider(self.setups, self.runtime)

    # --- events and persistence ---------------------------------------------------------------

    def event(
        self, record_or_id: ResourceRecord | str, resource_type: str, status: str, reason: str = ""
    ) -> None:
        logical_id = record_or_id.logical_id if isinstance(record_or_id, ResourceRecord) else record_or_id
        self.deployer.events(StackEvent(logical_id, resource_type, status, reason))

    def stack_event(self, status: str, reason: str = "") -> None:
        self.deployer.events(StackEvent(self.state.stack_name, STACK_TYPE, status, reason))

    def save(self, status: str | None = None) -> None:
        with self.lock:
            if status is not None:
                self.state.status = status
            self.state.resources = dict(self.records)
            self.state.retired = list(self.retired)
            self.deployer.store.save(self.state)

    def set_record(self, record: ResourceRecord) -> None:
        with self.lock:
            self.records[record.logical_id] = record
            self.forget_intent(record.logical_id)
        self.save()

    def remember(self, logical_id: str, name: str) -> None:
        """A generated name goes to the state before its create call (DeployContext.physical_name)."""
        resources = self.artifact.template.get("Resources", {}) if self.artifact else {}
        resource_type = str((resources.get(logical_id) or {}).get("Type", ""))
        with self.lock:
            self.state.intents[logical_id] = {"resource_type": resource_type, "physical_id": name}
        self.save()

    def forget_intent(self, logical_id: str) -> None:
        """Recorded now (the lock held): its name is no longer an intent."""
        self.state.intents.pop(logical_id, None)
        self.context.intents.pop(logical_id, None)
        self.context.inherited.pop(logical_id, None)

    def unrecorded_intents(self) -> list[ResourceRecord]:
        """What a killed run may have created but never recorded, as records to delete (a missing one is
        already deleted, as CloudFormation treats it)."""
        recorded = {record.physical_id for record in (*self.records.values(), *self.retired)}
        return [
            ResourceRecord(logical_id, intent["resource_type"], intent["physical_id"])
            for logical_id, intent in self.state.intents.items()
            if intent["physical_id"] not in recorded and intent["resource_type"] in DELETED_BY_NAME
        ]

    def implementation(self, resource_type: str) -> ResourceType:
        if is_personalize(resource_type):
            return self.provider
        if resource_type in NATIVE_TYPES:
            return NATIVE_TYPES[resource_type]
        if resource_type in CDK_CUSTOM_TYPES:
            return CDK_CUSTOM_TYPES[resource_type]
        raise TemplateError(f"no local implementation for {resource_type}")

    def ensure_setup(self, record: ResourceRecord) -> None:
        """Custom resources served by a stored setup (destroy, rollback) get it back from the record."""
        if is_personalize(record.resource_type) and record.logical_id not in self.setups:
            self.setups[record.logical_id] = (
                ProviderSetup.from_json(record.provider)
                if record.provider
                else self.deployer.fallback_setup(self.stack)
            )

    # --- deleting -----------------------------------------------------------------------------

    def delete_one(self, record: ResourceRecord, *, retain: bool) -> None:
        """Delete one physical resource with its events; Retain policies keep it (DELETE_SKIPPED)."""
        if record.skipped:
            return
        if retain:
            self.event(
                record,
                record.resource_type,
                "DELETE_SKIPPED",
                "retained by its DeletionPolicy or UpdateReplacePolicy",
            )
            return
        self.event(record, record.resource_type, "DELETE_IN_PROGRESS")
        try:
            self.ensure_setup(record)
            self.implementation(record.resource_type).delete(self.context, record)
        except Exception as error:
            self.event(record, record.resource_type, "DELETE_FAILED", describe_error(error))
            raise
        self.event(record, record.resource_type, "DELETE_COMPLETE")

    def delete_many(
        self, current: Iterable[ResourceRecord], retired: Iterable[ResourceRecord], *, rollback: bool
    ) -> dict[str, ResourceRecord]:
        """Delete in reverse dependency order, concurrently; returns what failed or could not start.

        `current` are resources under their logical ids: DeletionPolicy Retain keeps them, and so does
        RetainExceptOnCreate except when a rollback deletes what its deploy created. `retired` are replaced
        physical resources (UpdateReplacePolicy applies, except in a rollback), deleted before whatever they
        depended on. Kept resources are forgotten, as CloudFormation forgets them.
        """
        nodes, dependencies = self.deletion_plan(current, retired, rollback=rollback)

        def work(key: str) -> None:
            record, retain = nodes[key]
            self.delete_one(record, retain=retain)
            self.forget(key, record)

        run = run_graph(
            reverse(dependencies), work, max_workers=self.options.max_workers, continue_after_failure=True
        )
        return {key: nodes[key][0] for key in [*run.failed, *run.not_started]}

    @staticmethod
    def deletion_plan(
        current: Iterable[ResourceRecord], retired: Iterable[ResourceRecord], *, rollback: bool
    ) -> tuple[dict[str, tuple[ResourceRecord, bool]], dict[str, set[str]]]:
        """Nodes to delete (key → record, whether its policy keeps it) and what each depends on.
        Retired records are keyed `LOGICAL_ID#N`, since a logical id can leave several behind."""
        kept_policies = {"Retain"} if rollback else {"Retain", "RetainExceptOnCreate"}
        nodes: dict[str, tuple[ResourceRecord, bool]] = {}
        for record in current:
            nodes[record.logical_id] = (record, record.deletion_policy in kept_policies)
        for index, record in enumerate(retired):
            nodes[f"{record.logical_id}#{index}"] = (
                record,
                not rollback and record.update_replace_policy == "Retain",
            )
        by_logical_id = {record.logical_id: key for key, (record, _) in nodes.items() if "#" not in key}
        dependencies = {
            key: {by_logical_id[lid] for lid in record.dependencies if lid in by_logical_id}
            for key, (record, _) in nodes.items()
        }
        # A replaced resource also goes before the replaced resources it depended on (a replaced dataset
        # before the replaced schema it used), as a stack's resources are deleted dependents first; our
        # choice where the user guide is silent on the cleanup's order (docs/local-deploy.md).
        retired_keys: dict[str, set[str]] = {}
        for key, (record, _) in nodes.items():
            if "#" in key:
                retired_keys.setdefault(record.logical_id, set()).add(key)
        ordered = {key: set(prerequisites) for key, prerequisites in dependencies.items()}
        for key, (record, _) in nodes.items():
            if "#" in key:
                ordered[key] |= {other for lid in record.dependencies for other in retired_keys.get(lid, ())}
        try:
            topological_order(ordered)
        except TemplateError:  # records of templates whose dependencies ran the other way: no such order
            return nodes, dependencies
        return nodes, ordered

    def forget(self, key: str, record: ResourceRecord) -> None:
        """A deleted (or kept) resource leaves the record, which is saved at once."""
        with self.lock:
            if "#" in key:
                self.retired = [item for item in self.retired if item is not record]
            elif self.records.get(record.logical_id) is record:
                del self.records[record.logical_id]
        self.save()

    def close(self) -> None:
        self.runtime.close()


class _Deployment(_Run):
    """One deploy: plan, create/update in dependency order, then clean up or roll back."""

    def __init__(
        self, deployer: LocalDeployer, state: StackState, artifact: StackArtifact, first: bool
    ) -> None:
        super().__init__(deployer, state, artifact)
        self.first = first
        self.template = artifact.template
        self.resolver = Resolver(
            self.template,
            self.stack,
            parameters=self.options.parameters,
            references=_References(self.records),
        )
        self.context.resolve = lambda value, where: self.resolver.resolve(value, f"resource {where}")
        self.changes: list[Change] = []
        self.failures: dict[str, str] = {}

    # --- planning (nothing is touched before it passes) ----------------------------------------

    def plan(self) -> tuple[dict[str, set[str]], dict[str, str]]:
        """The dependency graph of the active resources and the skipped ones (logical id → why);
        refuses, by name, what the local deployer cannot do."""
        if "Transform" in self.template:
            raise TemplateError(
                f"stack {self.state.stack_name} uses Transform {self.template['Transform']}, "
                "which the local deployer does not support"
            )
        resources: Mapping[str, Any] = self.template.get("Resources", {})
        for name, definition in self.template.get("Conditions", {}).items():
            function = unsupported_function(definition, in_condition=True)
            if function:
                raise UnsupportedIntrinsicError(f"condition {name}", function)
        active = {logical_id for logical_id in resources if self.resolver.is_active(logical_id)}
        skipped = skipped_resources(
            {"Resources": {k: v for k, v in resources.items() if k in active}}, self.resolver
        )
        self.refuse_unsupported(sorted(active - set(skipped)))
        return dependency_graph(self.template, active), skipped

    def refuse_unsupported(self, created: Iterable[str]) -> None:
        """Unsupported intrinsic functions in the created resources and the outputs, and resource types
        without a local implementation, fail the plan before anything is touched."""
        resources: Mapping[str, Any] = self.template.get("Resources", {})
        unsupported = []
        for logical_id in created:
            resource = resources[logical_id]
            function = unsupported_function(resource.get("Properties", {}))
            if function:
                raise UnsupportedIntrinsicError(f"resource {logical_id}", function)
            if not is_emulated(resource["Type"]):
                unsupported.append(f"{logical_id} ({resource['Type']})")
        for name, output in self.template.get("Outputs", {}).items():
            function = unsupported_function(output)
            if function:
                raise UnsupportedIntrinsicError(f"output {name}", function)
        if unsupported:
            raise TemplateError(
                "the local deployer cannot create these resources: "
                + ", ".join(unsupported)
                + " (it creates S3 buckets and policies, IAM roles and policies, KMS keys and aliases, "
                "CDK BucketDeployments and auto-delete, and Custom::Personalize* resources)"
            )

    # --- the run ------------------------------------------------------------------------------

    def run(self) -> StackState:
        """Plan (nothing is touched before it passes), create and update, then clean up or roll back."""
        try:
            dependencies, skipped = self.plan()
        except LocalDeployError:
            self.close()
            raise
        self.announce()
        failed = self.execute_graph(dependencies, skipped)
        try:
            if failed:
                self.roll_back(sorted(failed))
            self.finish(dependencies)
            return self.state
        finally:
            self.close()

    def announce(self) -> None:
        """The stack's first event: what starts, and what the reader should know about this run."""
        verb = "CREATE" if self.first else "UPDATE"
        notes = ["User Initiated"]
        if not self.first and self.state.status.endswith("_IN_PROGRESS"):
            notes.append("the previous run was interrupted, continuing from its record")
        artifact = self.artifact
        assert artifact is not None
        if (artifact.account or self.stack.account, artifact.region or self.stack.region) != (
            self.stack.account,
            self.stack.region,
        ):
            notes.append(
                f"the stack targets aws://{artifact.account or '-'}/{artifact.region or '-'}; locally "
                f"the pseudo parameters are account {self.stack.account}, region {self.stack.region}"
            )
        self.stack_event(f"{verb}_IN_PROGRESS", "; ".join(notes))
        self.save(f"{verb}_IN_PROGRESS")

    def execute_graph(
        self, dependencies: Mapping[str, set[str]], skipped: Mapping[str, str]
    ) -> dict[str, BaseException]:
        """Every create and update in dependency order, then the deferred settings and the outputs;
        returns what failed (the stack's own name for a failure of the whole run)."""
        try:
            outcome = run_graph(
                dependencies,
                lambda logical_id: self.apply(logical_id, dependencies[logical_id], skipped),
                max_workers=self.options.max_workers,
                interruption=Interruption(cancel=self.cancel),
            )
            failed = dict(outcome.failed)
            if outcome.interrupted:
                failed[self.state.stack_name] = KeyboardInterrupt()
                self.failures[self.state.stack_name] = "Deployment cancelled by user (Ctrl-C)"
            if not failed:
                failed.update(self.run_deferred())
            if not failed:
                self.state.outputs = self.outputs()
        except KeyboardInterrupt:
            failed = {self.state.stack_name: KeyboardInterrupt()}
            self.failures[self.state.stack_name] = "Deployment cancelled by user (Ctrl-C)"
        except LocalDeployError as error:
            failed = {self.state.stack_name: error}
            self.failures[self.state.stack_name] = str(error)
        return failed

    def apply(self, logical_id: str, dependencies: set[str], skipped: Mapping[str, str]) -> None:
        """Create, update or leave one resource, as its resolved properties say."""
        resource = self.template["Resources"][logical_id]
        resource_type = resource["Type"]
        before = self.records.get(logical_id)
        fresh = (
            before is None
            or before.skipped != (logical_id in skipped)
            or before.resource_type != resource_type
            or before.failed  # a failed Create left only an id for the rollback's Delete: create anew
        )
        if fresh and before is not None and not before.skipped and not before.failed:
            with self.lock:
                self.retired.append(before)  # a different kind of resource now: the old one goes in cleanup
        if logical_id in skipped:
            if fresh:
                self.record_skipped(logical_id, resource, dependencies, skipped[logical_id])
            return
        record: ResourceRecord | None = None
        try:
            record = self.planned_record(logical_id, resource, dependencies)
            executed = self.execute(record, before if not fresh else None)
        except Exception as error:  # anything that stops a resource fails it and rolls the deploy back
            self.failures[logical_id] = describe_error(error)
            failed_status = "CREATE_FAILED" if fresh else "UPDATE_FAILED"
            self.event(logical_id, resource_type, failed_status, self.failures[logical_id])
            if fresh and record is not None and isinstance(error, FailedResponseError) and error.physical_id:
                self.record_failed_create(before, record, error.physical_id)
            raise
        if executed is not None:
            kind, outcome = executed
            self.record_change(kind, before, record, outcome)

    def record_failed_create(
        self, before: ResourceRecord | None, record: ResourceRecord, physical_id: str
    ) -> None:
        """A failed Create whose answer left CloudFormation a physical id: the resource is the stack's
        under that id, so the rollback sends it a Delete (aws/aws-cdk#5525: "When a CREATE operation fails,
        CloudFormation will automatically issue a DELETE operation with the PhysicalResourceId submitted by
        the FAILED response"). For the Provider framework's CREATE_FAILED marker that Delete is dropped
        by the framework itself (CustomResourceProvider.delete)."""
        failed = dataclasses.replace(record, physical_id=physical_id, failed=True)
        with self.lock:
            replaced_kind = before is not None and not before.skipped
            self.changes.append(
                Change("create", record.logical_id, before if replaced_kind else None, failed)
            )
        self.set_record(failed)

    def record_skipped(
        self, logical_id: str, resource: Mapping[str, Any], dependencies: set[str], reason: str
    ) -> None:
        """A handler-only resource: no call, only the names and ARNs it would have."""
        resource_type = resource["Type"]
        outcome = virtual_outcome(self.context, logical_id, resource_type, resource.get("Properties", {}))
        self.event(logical_id, resource_type, SKIPPED, reason)
        self.set_record(
            ResourceRecord(
                logical_id,
                resource_type,
                outcome.physical_id,
                attributes=outcome.attributes,
                dependencies=sorted(dependencies),
                skipped=True,
            )
        )

    def planned_record(
        self, logical_id: str, resource: Mapping[str, Any], dependencies: set[str]
    ) -> ResourceRecord:
        """Plan: the record this resource should have, with its properties resolved as CloudFormation
        would deliver them and (custom resources) the handler setup that serves it; no physical id yet."""
        resource_type = resource["Type"]
        properties = self.resolver.resolve(resource.get("Properties", {}), f"resource {logical_id}")
        if is_custom(resource_type):
            properties = cloudformation_strings(properties)
        if is_personalize(resource_type):
            self.setups[logical_id] = self.setup_for(logical_id)
        return ResourceRecord(
            logical_id,
            resource_type,
            None,
            properties=properties,
            dependencies=sorted(dependencies),
            deletion_policy=str(resource.get("DeletionPolicy", "Delete")),
            update_replace_policy=str(resource.get("UpdateReplacePolicy", "Delete")),
            provider=self.setups[logical_id].to_json() if logical_id in self.setups else {},
        )

    def execute(
        self, record: ResourceRecord, current: ResourceRecord | None
    ) -> tuple[ChangeKind, Outcome] | None:
        """Execute: create the resource (`current` is None) or update it when its properties changed;
        None when nothing changed. A failed update is remembered, so the rollback sends it back."""
        logical_id, resource_type, properties = record.logical_id, record.resource_type, record.properties
        implementation = self.implementation(resource_type)
        if current is None:
            self.event(logical_id, resource_type, "CREATE_IN_PROGRESS")
            return "create", implementation.create(
                self.context, Operation(logical_id, resource_type, properties)
            )
        if current.properties == properties:
            if record.provider != current.provider:  # new handler code serves its later events
                self.set_record(dataclasses.replace(current, provider=record.provider))
            return None
        self.event(logical_id, resource_type, "UPDATE_IN_PROGRESS")
        attempted = dataclasses.replace(current, properties=properties, provider=record.provider)
        try:
            outcome = implementation.update(
                self.context, Operation(logical_id, resource_type, properties, current)
            )
        except Exception as error:
            # A FAILED response with another physical id (is_complete failed after on_event answered a
            # replacement's id) leaves CloudFormation holding that id: the rollback Update is sent to it,
            # and if that Update answers the old id, the cleanup deletes it (revert_one).
            if isinstance(error, FailedResponseError) and error.physical_id:
                attempted = dataclasses.replace(attempted, physical_id=error.physical_id)
            with self.lock:
                self.changes.append(Change("update_failed", logical_id, current, attempted))
            raise
        return ("update" if outcome.physical_id == current.physical_id else "replace"), outcome

    def record_change(
        self, kind: ChangeKind, before: ResourceRecord | None, record: ResourceRecord, outcome: Outcome
    ) -> None:
        """Clean up after one resource: record what it became and what the rollback would need."""
        logical_id, resource_type = record.logical_id, record.resource_type
        after = dataclasses.replace(record, physical_id=outcome.physical_id, attributes=outcome.attributes)
        with self.lock:
            replaced_kind = before is not None and not before.skipped
            self.changes.append(
                Change(kind, logical_id, before if kind != "create" or replaced_kind else None, after)
            )
            if kind == "replace" and before is not None:
                self.retired.append(before)
            if before is not None and before.failed and before.physical_id != after.physical_id:
                self.retired.append(before)  # what a failed Create left under another id: cleanup's Delete
        self.set_record(after)
        if kind == "replace":
            reason = "the update created a new physical resource; the old one is deleted in cleanup"
            self.event(logical_id, resource_type, "UPDATE_COMPLETE", reason)
        else:
            status = "CREATE_COMPLETE" if kind == "create" else "UPDATE_COMPLETE"
            self.event(logical_id, resource_type, status, outcome.note)

    def setup_for(self, logical_id: str) -> ProviderSetup:
        fallback = self.deployer.fallback_setup(self.stack)
        if self.options.handler_module is not None or self.artifact is None:
            return fallback
        return discover_setup(
            logical_id,
            template=self.template,
            artifact=self.artifact,
            resolve=lambda value, where: self.resolver.resolve(value, f"resource {where}"),
            assets=self.context.assets,
            fallback=fallback,
        )

    def run_deferred(self) -> dict[str, BaseException]:
        failed: dict[str, BaseException] = {}
        for deferred in self.context.deferred:
            record = self.records[deferred.logical_id]
            try:
                deferred.action()
            except LocalDeployError as error:
                verb = (
                    "CREATE"
                    if any(c.kind == "create" and c.logical_id == record.logical_id for c in self.changes)
                    else "UPDATE"
                )
                self.failures[record.logical_id] = f"{deferred.description}: {error}"
                self.event(record, record.resource_type, f"{verb}_FAILED", self.failures[record.logical_id])
                failed[record.logical_id] = error
            else:
                self.event(record, record.resource_type, "UPDATE_COMPLETE", f"{deferred.description} applied")
        return failed

    def outputs(self) -> dict[str, Any]:
        values = {}
        for name, output in self.template.get("Outputs", {}).items():
            if "Condition" in output and not self.resolver.condition(output["Condition"], f"output {name}"):
                continue
            values[name] = self.resolver.resolve(output["Value"], f"output {name}")
        return values

    # --- after the creates and updates --------------------------------------------------------

    def finish(self, dependencies: Mapping[str, set[str]]) -> None:
        """Success: delete what was replaced or removed from the template. After a rollback: report it."""
        if "ROLLBACK" in self.state.status:
            raise DeployFailedError(self.failure_summary(), self.state.status)
        removed = [record for logical_id, record in self.records.items() if logical_id not in dependencies]
        if removed or self.retired:
            self.stack_event("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            leftovers = self.delete_many(removed, list(self.retired), rollback=False)
            for record in leftovers.values():
                self.stack_event(
                    "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                    f"could not delete {record.logical_id} ({record.physical_id}); destroy retries it",
                )
        status = "CREATE_COMPLETE" if self.first else "UPDATE_COMPLETE"
        self.stack_event(status, "" if self.changes or removed else "No changes")
        self.save(status)

    def roll_back(self, failed: list[str]) -> None:
        """Undo this deploy's changes the way CloudFormation rolls back, then record the outcome."""
        self.cancel.clear()  # a second Ctrl-C abandoned the deploy's waits, not the rollback's
        reason = self.failure_summary(failed)
        created = [change.after for change in self.changes if change.kind == "create"]
        if self.first:
            self.stack_event("ROLLBACK_IN_PROGRESS", reason)
            self.save("ROLLBACK_IN_PROGRESS")
            leftovers = self.delete_many(created, [], rollback=True)
            with self.lock:
                for logical_id in [lid for lid, record in self.records.items() if record.skipped]:
                    del self.records[logical_id]
            status = "ROLLBACK_FAILED" if leftovers else "ROLLBACK_COMPLETE"
        else:
            self.stack_event("UPDATE_ROLLBACK_IN_PROGRESS", reason)
            self.save("UPDATE_ROLLBACK_IN_PROGRESS")
            reverted = self.revert_updates()
            with self.lock:
                for change in self.changes:
                    if change.kind == "create" and change.before is not None:
                        self.records[change.logical_id] = change.before  # a resource whose type changed
                current = {record.physical_id for record in self.records.values()}
                doomed = [record for record in self.retired if record.physical_id not in current]
                self.retired = doomed
            if not reverted:  # CloudFormation's cleanup phase follows a completed rollback only
                self.stack_event("UPDATE_ROLLBACK_FAILED", NO_CLEANUP_REASON)
                self.save("UPDATE_ROLLBACK_FAILED")
                return
            self.stack_event("UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
            leftovers = self.delete_many(created, doomed, rollback=True)
            status = "UPDATE_ROLLBACK_FAILED" if leftovers else "UPDATE_ROLLBACK_COMPLETE"
        self.stack_event(status, self.leftover_reason(leftovers))
        self.save(status)

    def revert_updates(self) -> bool:
        """Send each changed resource back to its old properties, dependents first.

        Custom resources get the rollback Update (old and new properties swapped); if it answers with
        another physical id, the one it leaves is retired. A replaced native resource simply goes back
        to its old physical resource, which still exists, and the new one is retired.
        """
        reverts = {change.logical_id: change for change in self.changes if change.kind != "create"}
        dependencies = {logical_id: set(change.after.dependencies) for logical_id, change in reverts.items()}
        run = run_graph(
            reverse(dependencies),
            lambda logical_id: self.revert_one(reverts[logical_id]),
            max_workers=self.options.max_workers,
            continue_after_failure=True,
        )
        return run.succeeded

    def revert_one(self, change: Change) -> None:
        """One resource back to its previous properties; the physical resource it leaves is retired."""
        logical_id, before, after = change.logical_id, change.before, change.after
        assert before is not None
        resource_type = before.resource_type
        self.event(logical_id, resource_type, "UPDATE_IN_PROGRESS", "rolling back to the previous properties")
        try:
            if change.kind == "replace" and not is_custom(resource_type):
                restored = before
            else:
                self.ensure_setup(after)
                outcome = self.implementation(resource_type).update(
                    self.context, Operation(logical_id, resource_type, before.properties, after)
                )
                restored = dataclasses.replace(
                    before, physical_id=outcome.physical_id, attributes=outcome.attributes
                )
        except Exception as error:
            self.event(logical_id, resource_type, "UPDATE_FAILED", describe_error(error))
            with self.lock:  # the failed update's own physical resource stays recorded, no cleanup deletes it
                if after.physical_id != before.physical_id and all(
                    r.physical_id != after.physical_id for r in self.retired
                ):
                    self.retired.append(after)
            self.save()
            raise
        with self.lock:
            if after.physical_id != restored.physical_id and all(
                r.physical_id != after.physical_id for r in self.retired
            ):
                self.retired.append(after)
        self.set_record(restored)
        self.event(logical_id, resource_type, "UPDATE_COMPLETE")

    def failure_summary(self, failed: list[str] | None = None) -> str:
        names = failed if failed is not None else sorted(self.failures)
        resources = [name for name in names if name != self.state.stack_name]
        parts = []
        if resources:
            verb = "create" if self.first else "update"
            parts.append(f"The following resource(s) failed to {verb}: [{', '.join(resources)}].")
        for name in names:
            if name in self.failures:
                parts.append(f"{name}: {self.failures[name]}")
        return " ".join(parts) or "deploy failed"

    @staticmethod
    def leftover_reason(leftovers: Mapping[str, ResourceRecord]) -> str:
        if not leftovers:
            return ""
        names = ", ".join(sorted(record.logical_id for record in leftovers.values()))
        return f"could not delete: {names} (they stay recorded; destroy retries them)"


NO_CLEANUP_REASON = (
    "no cleanup: what this update created or replaced stays recorded; destroy or the next deploy deletes it"
)


class LocalDeployer:
    """Deploys cloud-assembly stacks to the local services and destroys them; state lives in `store`."""

    def __init__(
        self,
        endpoints: Endpoints,
        *,
        store: StateStore,
        session: str,
        events: EventSink,
        options: DeployOptions | None = None,
    ) -> None:
        self.endpoints = endpoints
        self.store = store
        self.session = session
        self.events = events
        self.options = options or DeployOptions()

    def fallback_setup(self, stack: StackContext) -> ProviderSetup:
        if self.options.handler_module is not None:
            return default_setup(stack.account, stack.region, self.options.handler_module)
        return default_setup(stack.account, stack.region)

    def _current_state(self, stack_name: str) -> StackState | None:
        """The stored state, or None when its resources vanished with a previous services session."""
        state = self.store.load(stack_name)
        if state is not None and state.session != self.session:
            self.events(
                StackEvent(
                    stack_name,
                    STACK_TYPE,
                    "DELETE_COMPLETE",
                    "its resources lived in local services that have since stopped; forgetting it",
                )
            )
            self.store.delete(stack_name)
            return None
        if state is not None and state.status == "ROLLBACK_COMPLETE":
            return None  # nothing exists; the CDK CLI also deletes such a stack before deploying again
        return state

    @staticmethod
    def refuse_rollback_failed(state: StackState | None) -> None:
        """A stack whose first create could not be rolled back can only be deleted, as in CloudFormation
        (user guide, stack status codes: ROLLBACK_FAILED, "delete the stack"); its records may be
        resources whose Create failed, which an update would take as existing."""
        if state is not None and state.status == "ROLLBACK_FAILED":
            left = ", ".join(sorted(state.resources)) or "none"
            raise StateError(
                f"stack {state.stack_name} is in ROLLBACK_FAILED state and can not be updated: its first "
                f"deploy failed and the rollback could not delete {left}. As in CloudFormation, such a "
                f"stack can only be deleted: run `python -m personalize_tools.localdeploy destroy "
                f"--stack {state.stack_name}`, then deploy again"
            )

    def deploy(
        self, artifact: StackArtifact, *, environment: str | None = None, cdk_out: Path | None = None
    ) -> StackState:
        """Create or update the stack; DeployFailedError (after the rollback) if it does not complete."""
        state = self._current_state(artifact.stack_name)
        self.refuse_rollback_failed(state)
        first = state is None or not state.resources
        if state is None:
            state = StackState(
                stack_name=artifact.stack_name,
                stack_id=(
                    f"arn:aws:cloudformation:{self.endpoints.region}:{self.endpoints.account}:stack/"
                    f"{artifact.stack_name}/{uuid.uuid4()}"
                ),
                account=self.endpoints.account,
                region=self.endpoints.region,
                status="REVIEW_IN_PROGRESS",
                session=self.session,
            )
        state.environment = environment or state.environment
        state.cdk_out = str(cdk_out) if cdk_out else state.cdk_out
        return _Deployment(self, state, artifact, first).run()

    def destroy(self, stack_name: str) -> bool:
        """Delete every resource of the stack; False when there was no such local stack."""
        state = self._current_state(stack_name)
        if state is None:
            self.store.delete(stack_name)
            return False
        run = _Run(self, state, None)
        try:
            run.stack_event("DELETE_IN_PROGRESS", "User Initiated")
            run.retired.extend(run.unrecorded_intents())
            run.state.intents.clear()
            run.save("DELETE_IN_PROGRESS")
            leftovers = run.delete_many(list(run.records.values()), list(run.retired), rollback=False)
        finally:
            run.close()
        if leftovers:
            reason = _Deployment.leftover_reason(leftovers)
            run.stack_event("DELETE_FAILED", reason)
            run.save("DELETE_FAILED")
            raise DeployFailedError(f"destroy of {stack_name} did not complete: {reason}", "DELETE_FAILED")
        run.stack_event("DELETE_COMPLETE")
        self.store.delete(stack_name)
        return True
