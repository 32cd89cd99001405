"""kustomize's default nameReference config: which fields of which kinds name which other kinds.

Transcribed from kustomize's api/konfig/builtinpluginconsts/namereference.go into a table: when a
ConfigMap, Secret, ServiceAccount... is renamed (prefix, suffix, hash, namespace), every field listed for it
here is rewritten to the new name.
"""

from __future__ import annotations

from typing import Any

from ._fieldspecs import FieldSpec

__all__ = ["NAME_REFERENCES"]

_POD_CM = (
    "volumes/configMap/name",
    "containers/env/valueFrom/configMapKeyRef/name",
    "initContainers/env/valueFrom/configMapKeyRef/name",
    "containers/envFrom/configMapRef/name",
    "initContainers/envFrom/configMapRef/name",
    "volumes/projected/sources/configMap/name",
)
_POD_SECRET = (
    "volumes/secret/secretName",
    "containers/env/valueFrom/secretKeyRef/name",
    "initContainers/env/valueFrom/secretKeyRef/name",
    "containers/envFrom/secretRef/name",
    "initContainers/envFrom/secretRef/name",
    "imagePullSecrets/name",
    "volumes/projected/sources/secret/name",
)
_TEMPLATED = ("Deployment", "ReplicaSet", "DaemonSet", "StatefulSet", "Job")
_TEMPLATED_SA = ("StatefulSet", "Deployment", "ReplicationController", "Job", "DaemonSet")


def _pod_family(paths: tuple[str, ...], templated: tuple[str, ...]) -> list[FieldSpec]:
    specs = [FieldSpec("spec/" + p, kind="Pod", version="v1") for p in paths]
    for kind in templated:
        specs += [FieldSpec("spec/template/spec/" + p, kind=kind) for p in paths]
    specs += [FieldSpec("spec/jobTemplate/spec/template/spec/" + p, kind="CronJob") for p in paths]
    return specs


_KNATIVE: dict[str, Any] = {"kind": "Service", "group": "serving.knative.dev", "version": "v1"}

# (referral kind, referral group or None for "any", referrer field specs)
NAME_REFERENCES: tuple[tuple[str, str | None, tuple[FieldSpec, ...]], ...] = (
    *(
        (kind, None, (FieldSpec("spec/scaleTargetRef/name", kind="HorizontalPodAutoscaler"),))
        for kind in ("Deployment", "ReplicationController", "ReplicaSet", "StatefulSet")
    ),
    (
        "ConfigMap",
        "",
        (
            *_pod_family(_POD_CM, _TEMPLATED),
            FieldSpec("spec/configSource/configMap", kind="Node"),
            FieldSpec("rules/resourceNames", kind="Role"),
            FieldSpec("rules/resourceNames", kind="ClusterRole"),
            FieldSpec(
                r"metadata/annotations/nginx.ingress.kubernetes.io\/fastcgi-params-configmap", kind="Ingress"
            ),
            FieldSpec("spec/template/spec/containers/env/valueFrom/configMapKeyRef/name", **_KNATIVE),
            FieldSpec("spec/template/spec/containers/envFrom/configMapRef/name", **_KNATIVE),
        ),
    ),
    (
        "Secret",
        "",
        (
            *_pod_family(_POD_SECRET, _TEMPLATED),
            FieldSpec("spec/tls/secretName", kind="Ingress"),
            FieldSpec(r"metadata/annotations/ingress.kubernetes.io\/auth-secret", kind="Ingress"),
            FieldSpec(r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-secret", kind="Ingress"),
            FieldSpec(r"metadata/annotations/nginx.ingress.kubernetes.io\/auth-tls-secret", kind="Ingress"),
            FieldSpec("imagePullSecrets/name", kind="ServiceAccount"),
            FieldSpec("parameters/secretName", kind="StorageClass"),
            FieldSpec("parameters/adminSecretName", kind="StorageClass"),
            FieldSpec("parameters/userSecretName", kind="StorageClass"),
            FieldSpec("parameters/secretRef", kind="StorageClass"),
            FieldSpec("rules/resourceNames", kind="Role"),
            FieldSpec("rules/resourceNames", kind="ClusterRole"),
            FieldSpec("spec/template/spec/containers/env/valueFrom/secretKeyRef/name", **_KNATIVE),
            FieldSpec("spec/azureFile/secretName", kind="PersistentVolume"),
        ),
    ),
    (
        "Service",
        "",
        (
            FieldSpec("spec/serviceName", kind="StatefulSet", group="apps"),
            FieldSpec("spec/rules/http/paths/backend/serviceName", kind="Ingress"),
            FieldSpec("spec/backend/serviceName", kind="Ingress"),
            FieldSpec("spec/rules/http/paths/backend/service/name", kind="Ingress"),
            FieldSpec("spec/defaultBackend/service/name", kind="Ingress"),
            FieldSpec("spec/service/name", kind="APIService", group="apiregistration.k8s.io"),
            FieldSpec(
                "webhooks/clientConfig/service",
                kind="ValidatingWebhookConfiguration",
                group="admissionregistration.k8s.io",
            ),
            FieldSpec(
                "webhooks/clientConfig/service",
                kind="MutatingWebhookConfiguration",
                group="admissionregistration.k8s.io",
            ),
        ),
    ),
    (
        "Role",
        "rbac.authorization.k8s.io",
        (FieldSpec("roleRef/name", kind="RoleBinding", group="rbac.authorization.k8s.io"),),
    ),
    (
        "ClusterRole",
        "rbac.authorization.k8s.io",
        (
            FieldSpec("roleRef/name", kind="RoleBinding", group="rbac.authorization.k8s.io"),
            FieldSpec("roleRef/name", kind="ClusterRoleBinding", group="rbac.authorization.k8s.io"),
        ),
    ),
    (
        "ServiceAccount",
        "",
        (
            FieldSpec("subjects", kind="RoleBinding", group="rbac.authorization.k8s.io"),
            FieldSpec("subjects", kind="ClusterRoleBinding", group="rbac.authorization.k8s.io"),
            FieldSpec("spec/serviceAccountName", kind="Pod"),
            *(FieldSpec("spec/template/spec/serviceAccountName", kind=k) for k in _TEMPLATED_SA),
            FieldSpec("spec/jobTemplate/spec/template/spec/serviceAccountName", kind="CronJob"),
        ),
    ),
    (
        "PersistentVolumeClaim",
        "",
        (
            FieldSpec("spec/volumes/persistentVolumeClaim/claimName", kind="Pod"),
            *(
                FieldSpec("spec/template/spec/volumes/persistentVolumeClaim/claimName", kind=k)
                for k in _TEMPLATED_SA
            ),
            FieldSpec(
                "spec/jobTemplate/spec/template/spec/volumes/persistentVolumeClaim/claimName", kind="CronJob"
            ),
        ),
    ),
    (
        "PersistentVolume",
        "",
        (
            FieldSpec("spec/volumeName", kind="PersistentVolumeClaim"),
            FieldSpec("rules/resourceNames", kind="ClusterRole"),
        ),
    ),
    (
        "StorageClass",
        "storage.k8s.io",
        (
            FieldSpec("spec/storageClassName", kind="PersistentVolume"),
            FieldSpec("spec/storageClassName", kind="PersistentVolumeClaim"),
            FieldSpec("spec/volumeClaimTemplates/spec/storageClassName", kind="StatefulSet"),
        ),
    ),
    (
        "PriorityClass",
        "scheduling.k8s.io",
        (
            FieldSpec("spec/priorityClassName", kind="Pod"),
            *(FieldSpec("spec/template/spec/priorityClassName", kind=k) for k in _TEMPLATED_SA),
            FieldSpec("spec/jobTemplate/spec/template/spec/priorityClassName", kind="CronJob"),
        ),
    ),
)
