"""The deployment files for many replicas: they parse, and say what the scaling design needs."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def _k8s() -> dict[tuple[str, str], dict[str, Any]]:
    found = {}
    for path in sorted((DEPLOY / "k8s").glob("*.yaml")):
        for doc in _docs(path):
            found[(doc["kind"], doc.get("metadata", {}).get("name", ""))] = doc
    return found


def test_compose_runs_redis_two_web_replicas_a_poller_and_nginx():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"redis", "web", "poller", "nginx"}
    assert services["web"]["deploy"]["replicas"] == 2
    assert services["web"]["command"] == ["serve", "--role", "web"]
    assert services["poller"]["command"] == ["serve", "--role", "poller"]
    for name in ("web", "poller"):
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}
        assert service["environment"]["TICKER_REDIS_URL"] == "redis://redis:6379/0"
        assert service["depends_on"]["redis"] == {"condition": "service_healthy"}
        assert int(service["stop_grace_period"].removesuffix("s")) > 10
    nginx = services["nginx"]
    assert "./nginx/ticker.conf:/etc/nginx/conf.d/default.conf:ro" in nginx["volumes"]
    assert "./nginx/article.html:/usr/share/ticker-demo/article.html:ro" in nginx["volumes"]
    upstream = compose["configs"][nginx["configs"][0]["source"]]["content"]
    assert "upstream ticker" in upstream and "server web:8080" in upstream
    assert nginx["configs"][0]["target"].startswith("/etc/nginx/conf.d/")
    assert "noeviction" in services["redis"]["command"]


def test_dockerfile_is_slim_and_runs_as_a_non_root_user():
    text = (DEPLOY / "Dockerfile").read_text()
    stages = [line for line in text.splitlines() if line.startswith("FROM ")]
    assert len(stages) == 2 and all("-slim" in line for line in stages)
    users = [line.split()[1] for line in text.splitlines() if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert "STOPSIGNAL SIGTERM" in text
    instructions = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    # Secrets come at run time, never baked into the image.
    assert not any("KMA_AUTH_KEY" in line or "REDIS_URL" in line for line in instructions)


def test_kubernetes_web_and_poller_with_probes_scaling_and_secrets():
    k8s = _k8s()
    for key in [
        ("Deployment", "ticker-web"),
        ("Service", "ticker-web"),
        ("HorizontalPodAutoscaler", "ticker-web"),
        ("PodDisruptionBudget", "ticker-web"),
        ("Deployment", "ticker-poller"),
        ("ConfigMap", "ticker-config"),
        ("Secret", "ticker-secrets"),
    ]:
        assert key in k8s, key
    for name, role in (("ticker-web", "web"), ("ticker-poller", "poller")):
        pod = k8s[("Deployment", name)]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == ["serve", "--role", role]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        ready = "/readyz?check=snapshot" if role == "web" else "/readyz"
        assert container["readinessProbe"]["httpGet"]["path"] == ready
        refs = {next(iter(r)): next(iter(r.values()))["name"] for r in container["envFrom"]}
        assert refs == {"configMapRef": "ticker-config", "secretRef": "ticker-secrets"}
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["terminationGracePeriodSeconds"] > 10
    config = k8s[("ConfigMap", "ticker-config")]["data"]
    assert not any("KEY" in k or "REDIS_URL" in k for k in config)  # secrets only in the Secret
    selector = k8s[("Service", "ticker-web")]["spec"]["selector"]
    web_labels = k8s[("Deployment", "ticker-web")]["spec"]["template"]["metadata"]["labels"]
    assert selector.items() <= web_labels.items()
    assert k8s[("HorizontalPodAutoscaler", "ticker-web")]["spec"]["scaleTargetRef"]["name"] == "ticker-web"
    kustomization = yaml.safe_load((DEPLOY / "k8s" / "kustomization.yaml").read_text())
    assert "secret.example.yaml" not in kustomization["resources"]


def test_systemd_units_stop_gracefully_and_keep_secrets_in_an_env_file():
    for name in ("ticker-web@.service", "ticker-poller.service"):
        unit = configparser.ConfigParser(strict=False, interpolation=None)
        unit.optionxform = str  # type: ignore[assignment,method-assign]
        unit.read(DEPLOY / "systemd" / name)
        service = unit["Service"]
        role = "web" if name.startswith("ticker-web") else "poller"
        assert service["ExecStart"].endswith(f"ticker serve --role {role}")
        assert service["KillSignal"] == "SIGTERM"
        assert int(service["TimeoutStopSec"]) > 10
        assert service["EnvironmentFile"] == "/etc/ticker/ticker.env"
        assert service["DynamicUser"] == "yes"
