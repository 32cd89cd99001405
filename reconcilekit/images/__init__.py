"""Image update automation: scan registries, pick tags with Flux-compatible policies, write them into Git.

The flow, left to right:

1. :class:`RegistryClient` lists a repository's tags through the OCI distribution API (pagination, bearer
   token and basic auth, custom CA) and resolves tags to digests.
2. An :class:`ImagePolicy` - an ordering policy (:class:`SemverPolicy`, :class:`AlphabeticalPolicy`,
   :class:`NumericalPolicy`) with an optional :class:`TagFilter` - picks the latest tag, with the semantics of
   Flux's image-reflector-controller.
3. :func:`apply_setters` writes the chosen references into YAML fields marked
   ``# {"$imagepolicy": "namespace:name"}``, changing only the bytes of each changed value.
4. :class:`ImageUpdateAutomation` is the reconciler tying them together on an interval: scan, evaluate, set in
   a Git checkout, commit and push (to the checkout branch or a review branch).

The registry client uses aiohttp, so this package runs on asyncio (not trio).

Example::

    policy = ImagePolicy(SemverPolicy("^1.0"))
    async with RegistryClient("https://registry.example") as client:
        tag = policy.latest(await client.list_tags("team/app"))
    apply_setters("deploy/", {"flux-system:app": f"registry.example/team/app:{tag}"})
"""

from __future__ import annotations

from .._public import publish
from ._automation import (
    DEFAULT_COMMIT_MESSAGE,
    AutomationRun,
    CommitMessageTemplate,
    GitCheckout,
    ImageUpdateAutomation,
    ImageUpdatePolicy,
)
from ._errors import (
    InvalidImageReferenceError,
    InvalidPolicyError,
    InvalidYAMLError,
    MalformedMarkerError,
    ManifestNotFound,
    NoMatchingTag,
    RegistryAuthError,
    RegistryError,
    RegistryResponseError,
    RegistryUnreachable,
    RepositoryNotFound,
    SetterError,
    UnknownPolicyError,
)
from ._policy import (
    AlphabeticalPolicy,
    ImagePolicy,
    NumericalPolicy,
    Order,
    SemverPolicy,
    TagFilter,
    TagPolicy,
)
from ._registry import (
    DEFAULT_EXCLUSION_LIST,
    MANIFEST_MEDIA_TYPES,
    ImageRepository,
    RegistryAuth,
    RegistryClient,
)
from ._setters import Change, ImageReference, SetterKind, apply_setters, parse_image_reference

__all__ = [
    "DEFAULT_COMMIT_MESSAGE",
    "DEFAULT_EXCLUSION_LIST",
    "MANIFEST_MEDIA_TYPES",
    "AlphabeticalPolicy",
    "AutomationRun",
    "Change",
    "CommitMessageTemplate",
    "GitCheckout",
    "ImagePolicy",
    "ImageReference",
    "ImageRepository",
    "ImageUpdateAutomation",
    "ImageUpdatePolicy",
    "InvalidImageReferenceError",
    "InvalidPolicyError",
    "InvalidYAMLError",
    "MalformedMarkerError",
    "ManifestNotFound",
    "NoMatchingTag",
    "NumericalPolicy",
    "Order",
    "RegistryAuth",
    "RegistryAuthError",
    "RegistryClient",
    "RegistryError",
    "RegistryResponseError",
    "RegistryUnreachable",
    "RepositoryNotFound",
    "SemverPolicy",
    "SetterError",
    "SetterKind",
    "TagFilter",
    "TagPolicy",
    "UnknownPolicyError",
    "apply_setters",
    "parse_image_reference",
]

publish(globals(), __name__)
