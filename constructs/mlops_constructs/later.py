"""A value the sagemaker SDK's process is still computing, written into a template.

On a first synth (an empty synth memo) the pipeline definitions are asked of the SDK's process
as soon as their specs exist and read when the template is synthesized (ADR 0029): until then
the template holds a ``Lazy`` token, so the app goes on building stacks while the other core
builds the definitions. A value already known (a memo hit, or computed in this process) is
written as it is, so a warm synth makes no extra call into jsii.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii

from mlops_constructs.memo import Later


@jsii.implements(cdk.IStableStringProducer)
class _Produce:
    def __init__(self, later: Later) -> None:
        self._later = later

    def produce(self) -> str:
        return self._later.get()


def template_string(later: Later) -> str:
    """``later``'s value, or a token that resolves to it when the template is synthesized."""
    return later.get() if later.ready else cdk.Lazy.string(_Produce(later))
