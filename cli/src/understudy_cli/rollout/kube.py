"""The plugin's one door to the API server: kubectl-style connection flags, the rollout by
name, its annotations, a watch; API trouble becomes :class:`PluginError` with an exit code."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import urllib3
from kubernetes import client, config, watch

from understudy_cli.rollout.errors import EXIT_API, EXIT_NOT_FOUND, EXIT_USAGE, PluginError
from understudy_operator.kube import GROUP, PLURAL, VERSION


@dataclass(frozen=True)
class Target:
    """The kubectl-style flags: where the rollout is."""

    kubeconfig: str | None
    context: str | None
    namespace: str | None


class Rollouts:
    """ModelRollouts of one namespace, through the kubeconfig's credentials."""

    def __init__(self, target: Target) -> None:
        try:
            self.api = config.new_client_from_config(
                config_file=target.kubeconfig, context=target.context
            )
            contexts, active = config.list_kube_config_contexts(config_file=target.kubeconfig)
        except (config.ConfigException, OSError) as exc:
            raise PluginError(f"cannot load the kubeconfig: {exc}", EXIT_USAGE) from exc
        chosen = next((c for c in contexts if c["name"] == target.context), active)
        self.namespace = target.namespace or chosen.get("context", {}).get("namespace") or "default"
        self._custom = client.CustomObjectsApi(self.api)
        self._core = client.CoreV1Api(self.api)

    def get(self, name: str) -> dict[str, Any]:
        with self._calling(name):
            obj = self._custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, PLURAL, name
            )
        if not isinstance(obj, dict):
            raise PluginError(f"unexpected answer from the API server: {obj!r}", EXIT_API)
        return obj

    @contextmanager
    def _calling(self, name: str) -> Iterator[None]:
        """API trouble around a call about rollout ``name`` as a PluginError."""
        try:
            yield
        except client.ApiException as exc:
            if exc.status == 404:
                raise PluginError(self._not_found(name), EXIT_NOT_FOUND) from exc
            raise _api_error(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unreachable(exc) from exc

    def _not_found(self, name: str) -> str:
        try:
            self._core.read_namespace(self.namespace)
        except client.ApiException as exc:
            if exc.status == 404:
                return f'namespace "{self.namespace}" not found'
        except (urllib3.exceptions.HTTPError, OSError):
            pass
        return f'modelrollout "{name}" not found in namespace "{self.namespace}"'

    def annotate(self, name: str, annotations: dict[str, str | None]) -> None:
        """Merge-patch the rollout's annotations (None removes one)."""
        with self._calling(name):
            self._custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                name,
                {"metadata": {"annotations": annotations}},
                _content_type="application/merge-patch+json",
            )

    def watch(self, name: str, *, timeout_seconds: int | None) -> Iterator[dict[str, Any]]:
        """The rollout now, then every change of it (a watch on its name) until the
        timeout (None: the server's own watch timeout)."""
        yield self.get(name)
        w = watch.Watch()
        kwargs: dict[str, Any] = {"field_selector": f"metadata.name={name}"}
        try:
            for event in w.stream(
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self.namespace,
                PLURAL,
                timeout_seconds=timeout_seconds,
                **kwargs,
            ):
                if event["type"] == "DELETED":
                    raise PluginError(
                        f'modelrollout "{name}" was deleted from namespace "{self.namespace}"',
                        EXIT_NOT_FOUND,
                    )
                if event["type"] in ("ADDED", "MODIFIED"):
                    yield dict(event["object"])
        except client.ApiException as exc:
            raise _api_error(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise _unreachable(exc) from exc
        finally:
            w.stop()


def _api_error(exc: client.ApiException) -> PluginError:
    return PluginError(f"the API server refused: {exc.status} {exc.reason}", EXIT_API)


def _unreachable(exc: Exception) -> PluginError:
    return PluginError(f"cannot reach the API server: {exc}", EXIT_API)
