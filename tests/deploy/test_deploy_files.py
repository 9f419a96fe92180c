"""The production files lint clean (no Docker engine or cluster runs here):
hadolint for the Dockerfiles, the Kubernetes schemas for the manifests, and
what the product relies on: probes on every process, no secret in a manifest,
only the public paths of docs/deploy.md behind the ingress."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
DOCKERFILES = sorted((ROOT / "deploy" / "docker").glob("*.Dockerfile"))
MANIFESTS = sorted((ROOT / "deploy" / "k8s").glob("*.yaml"))
PUBLIC_PATHS = {"/webhooks/wechat_mp/webhook", "/webhooks/wecom_kf/webhook", "/webhooks/wecom/webhook",
                "/", "/static", "/api/session", "/api/chat", "/api/persona"}


def documents():
    for path in MANIFESTS:
        yield from (d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfile_passes_hadolint(dockerfile: Path):
    result = subprocess.run([str(BIN / "hadolint"), str(dockerfile)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_manifests_match_the_kubernetes_schemas():
    assert len(MANIFESTS) >= 4
    result = subprocess.run([str(BIN / "kubernetes-validate"), "--strict", "--quiet", *map(str, MANIFESTS)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_container_has_readiness_and_liveness_probes():
    deployments = [d for d in documents() if d["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"rasa", "actions", "console", "outbound"}
    for deployment in deployments:
        for container in deployment["spec"]["template"]["spec"]["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, container["name"]


def test_secrets_come_only_from_the_secret():
    for document in documents():
        if document["kind"] != "Deployment":
            continue
        for container in document["spec"]["template"]["spec"]["containers"]:
            names = {e["name"] for e in container.get("env", [])}
            assert not names & {"RASA_TOKEN", "ACTIONS_TOKEN", "CONSOLE_OPS_TOKEN", "REDIS_PASSWORD"}
            assert container["envFrom"] == [{"secretRef": {"name": "brand-assistant-secrets"}}]


def test_the_ingress_exposes_only_the_public_paths():
    ingresses = [d for d in documents() if d["kind"] == "Ingress"]
    paths = {p["path"]: p for i in ingresses for rule in i["spec"]["rules"] for p in rule["http"]["paths"]}
    assert set(paths) == PUBLIC_PATHS
    assert all(p["backend"]["service"]["name"] != "actions" for p in paths.values())
    assert all(p["pathType"] == "Exact" for path, p in paths.items() if path != "/static")
