"""The local deployer's exceptions: each message says what happened, to which resource, and what to do."""

from __future__ import annotations


class LocalDeployError(Exception):
    """Base class; the CLI prints the message and exits non-zero instead of showing a traceback."""


class AssemblyError(LocalDeployError):
    """cdk.out is missing, unreadable, or does not hold the requested stack."""


class TemplateError(LocalDeployError):
    """The template uses something the local deployer cannot emulate; raised before anything is created."""


class UnsupportedIntrinsicError(TemplateError):
    """An intrinsic function outside the supported set (docs/local-deploy.md lists it)."""

    def __init__(self, where: str, function: str) -> None:
        super().__init__(f"{where} uses {function}, which the local deployer does not support")
        self.where = where
        self.function = function


class ResolutionError(TemplateError):
    """A Ref or Fn::GetAtt names something that has no value (yet), or a parameter has no value."""


class ResourceFailedError(LocalDeployError):
    """One resource operation failed; the message is the status reason shown in the stack events."""


class FailedResponseError(ResourceFailedError):
    """A custom resource's operation failed; `physical_id` is the PhysicalResourceId CloudFormation holds
    for it afterwards: the one the FAILED response carried, or, when no response came (ServiceTimeout),
    the one CloudFormation generates for a Create; None when the resource keeps the id it had."""

    def __init__(self, message: str, physical_id: str | None) -> None:
        super().__init__(message)
        self.physical_id = physical_id


class HandlerError(ResourceFailedError):
    """A custom-resource handler raised; the message is what the Provider framework reports."""

    def __init__(self, message: str, error_type: str = "Exception") -> None:
        super().__init__(message)
        self.error_type = error_type


class DeployFailedError(LocalDeployError):
    """A deploy or destroy did not complete; what it changed was rolled back where CloudFormation would."""

    def __init__(self, message: str, final_status: str) -> None:
        super().__init__(message)
        self.final_status = final_status


class StateError(LocalDeployError):
    """The state folder holds something the requested operation cannot continue from."""


class ServicesError(LocalDeployError):
    """The local AWS services (moto, the Personalize emulator) cannot be started, reached or stopped."""


def describe_error(error: BaseException) -> str:
    """A failure as a status reason: our own errors speak for themselves, others carry their type."""
    return str(error) if isinstance(error, LocalDeployError) else f"{type(error).__name__}: {error}"
