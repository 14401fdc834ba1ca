"""The deployment files agree with the code: docker-compose.yml, deploy/prometheus, deploy/grafana, deploy/k8s.

No Docker engine, Prometheus or cluster needed: the files are parsed and cross-checked against streams/settings.py,
streams/metrics.py and deploy/kafka/pom.xml. tests/integration/test_observability.py runs the queries for real.
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import yaml
from prometheus_client import CollectorRegistry
from prometheus_client.metrics import MetricWrapperBase
from pydantic import AliasChoices

from models.bounds import TOPIC_MAX_MESSAGE_BYTES
from models.schemas import SCHEMA_NAMES
from streams.metrics import Metrics
from streams.settings import Settings
from streams.topics import topic_specs

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
POM = ROOT / "deploy" / "kafka" / "pom.xml"
PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
GRAFANA_DIR = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA_DIR / "dashboards" / "reviewstream.json"
K8S_DIR = ROOT / "deploy" / "k8s"

# Label names that would make a series per user, product, review...: unbounded cardinality, and personal data.
FORBIDDEN_LABELS = {"user", "user_id", "product", "product_id", "review", "review_id", "alert_id", "session_id",
                    "order_id", "customer_id", "event_id", "message_id", "request_id", "trace_id", "email", "phone",
                    "text", "key", "offset", "url", "ip"}
# Labels Prometheus adds (job, instance) or histograms have (le).
PROMETHEUS_LABELS = {"job", "instance", "le"}


# ------------------------------------------------------------------------------------------------ helpers
def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def compose() -> dict[str, Any]:
    return load_yaml(COMPOSE)


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def metrics_catalogue() -> tuple[set[str], dict[str, set[str]]]:
    """The series names the worker can expose (counters with `_total`, histogram `_bucket/_sum/_count`...) and the
    label names of each metric family, from a fresh `streams.metrics.Metrics`."""
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    names: set[str] = set()
    labels: dict[str, set[str]] = {}
    suffixes = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"],
                "summary": ["", "_sum", "_count"], "info": ["_info"], "untyped": [""]}
    for family in registry.collect():
        for suffix in suffixes.get(family.type, [""]):
            names.add(family.name + suffix)
        labels.setdefault(family.name, set()).update(k for s in family.samples for k in s.labels if k != "le")
    # Labelled metrics with no child yet have no samples: read their declared label names.
    for wrapper in vars(metrics).values():
        if isinstance(wrapper, MetricWrapperBase):
            family_name = wrapper._name  # type: ignore[attr-defined]
            labels.setdefault(family_name, set()).update(wrapper._labelnames)  # type: ignore[attr-defined]
    return names, labels


def all_metric_labels() -> set[str]:
    _, labels = metrics_catalogue()
    return set().union(*labels.values())


_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"\{([^}]*)\}")
_MATCHER = re.compile(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)")
_RANGE = re.compile(r"\[[^\]]*\]")
_IDENT = re.compile(r"(?<![\w:.$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
             "offset", "inf", "nan", "atan2"}


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) referenced by a PromQL expression; function calls and keywords are skipped."""
    text = _STRING.sub('""', expr)
    label_names: set[str] = set()
    for group in _GROUPING.findall(text):
        label_names.update(n.strip() for n in group.split(",") if n.strip())
    text = _GROUPING.sub(" ", text)
    for selector in _SELECTOR.findall(text):
        label_names.update(_MATCHER.findall(selector))
    text = _RANGE.sub(" ", _SELECTOR.sub(" ", text))
    metric_names = {name for name, call in _IDENT.findall(text) if not call and name.lower() not in _KEYWORDS}
    return metric_names, label_names


def test_promql_names_parser() -> None:
    metrics, labels = promql_names(
        'histogram_quantile(0.99, sum by (le, agent) (rate(x_bucket{job=~"$job", a="b{c}"}[$__rate_interval])))'
        ' / on (instance) group_left y_total * 1e6 > bool 3 or vector(0)')
    assert metrics == {"x_bucket", "y_total"}
    assert labels == {"le", "agent", "job", "a", "instance"}


def dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text(encoding="utf-8"))


def dashboard_panels() -> Iterator[dict[str, Any]]:
    for panel in dashboard()["panels"]:
        yield panel
        yield from panel.get("panels", [])


def dashboard_exprs() -> list[tuple[str, str]]:
    return [(p["title"], t["expr"]) for p in dashboard_panels() for t in p.get("targets", [])]


def rules() -> list[dict[str, Any]]:
    return [r for g in load_yaml(PROMETHEUS_DIR / "rules.yml")["groups"] for r in g["rules"]]


def k8s_docs() -> list[dict[str, Any]]:
    kustomization = load_yaml(K8S_DIR / "kustomization.yaml")
    docs = []
    for resource in kustomization["resources"]:
        path = K8S_DIR / resource
        assert path.is_file(), f"kustomization.yaml lists {resource}, which does not exist"
        docs.extend(d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d)
    return docs


def k8s(kind: str) -> list[dict[str, Any]]:
    return [d for d in k8s_docs() if d["kind"] == kind]


def settings_env_names() -> set[str]:
    names = set()
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(c) for c in alias.choices)
        elif isinstance(alias, str):
            names.add(alias)
        else:
            names.add(f"REVIEWSTREAM_{name.upper()}")
    return names


def default(field: str) -> Any:
    return Settings.model_fields[field].default


def mounts(service: dict[str, Any]) -> list[tuple[Path, PurePosixPath]]:
    """(host path, container path) of a service's bind mounts (short syntax); named volumes are skipped."""
    out = []
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            out.append(((ROOT / source).resolve(), PurePosixPath(target)))
    return out


def host_path(service: dict[str, Any], container_path: str) -> Path:
    """The file on this machine that `container_path` is inside the service's container."""
    wanted = PurePosixPath(container_path)
    for host, target in sorted(mounts(service), key=lambda m: len(m[1].parts), reverse=True):
        if wanted == target or target in wanted.parents:
            return host.joinpath(*wanted.relative_to(target).parts)
    raise AssertionError(f"{container_path} is not inside any bind mount of the service")


# ------------------------------------------------------------------------------------------------ compose
def test_compose_parses_and_keeps_the_pipeline_services() -> None:
    assert {"kafka", "topics", "worker", "prometheus", "grafana", "llm"} <= set(services())
    assert services()["llm"].get("profiles") == ["llm"], "the LLM simulator is optional (profile llm)"
    for name, service in services().items():
        if name != "llm":
            assert "profiles" not in service, f"{name} must start with a plain `docker compose up`"


def test_compose_uses_the_kafka_version_of_the_pom() -> None:
    ns = {"m": "http://maven.apache.org/POM/4.0.0"}
    version = ET.parse(POM).getroot().findtext("m:properties/m:kafka.version", namespaces=ns)
    assert version
    images = {name: s["image"] for name, s in services().items() if s.get("image", "").startswith("apache/kafka")}
    assert set(images) == {"kafka", "topics"}
    assert set(images.values()) == {f"apache/kafka:{version}"}, images


def test_compose_creates_the_topics_the_worker_would_with_their_configs() -> None:
    script = "\n".join(services()["topics"]["command"])
    definition = re.search(r"create\(\) \{(.*)\}", script)
    assert definition, "compose's topics service defines create()"
    common = set(re.findall(r"--config (\S+)", definition.group(1)))  # configs every topic gets
    created: dict[str, set[str]] = {}
    for names, rest in re.findall(r"for t in ([^;]+); do create \$\$t([^;]*);", script):
        for name in names.split():
            created[name] = common | set(re.findall(r"--config (\S+)", rest))
    for name, rest in re.findall(r"^\s*create ([\w.-]+)(.*)$", script, re.MULTILINE):
        created[name] = common | set(re.findall(r"--config (\S+)", rest))
    expected = {spec.name: {f"{k}={v}" for k, v in spec.config.items()} for spec in topic_specs(Settings())}
    assert created == expected, "compose must create exactly what ensure_topics creates, with the same configs"
    partitions = re.search(r"--partitions (\d+)", script)
    assert partitions
    worker = services()["worker"]
    assert int(partitions.group(1)) == int(worker["environment"]["REVIEWSTREAM_TOPIC_PARTITIONS"])
    assert worker["deploy"]["replicas"] <= int(partitions.group(1)), "replicas beyond the partitions stay idle"


def test_compose_environment_names_are_settings() -> None:
    known = settings_env_names()
    for name, service in services().items():
        env = service.get("environment") or {}
        for key in env:
            if key.startswith("REVIEWSTREAM_"):
                assert key in known, f"{name}: {key} is not a setting"


def test_every_file_a_service_mounts_or_references_exists() -> None:
    for name, service in services().items():
        for host, _ in mounts(service):
            assert host.exists(), f"{name} mounts {host}, which does not exist"
        for env_file in service.get("env_file", []):
            entry = env_file if isinstance(env_file, dict) else {"path": env_file}
            if entry.get("required", True):
                assert (ROOT / entry["path"]).is_file(), f"{name}: env_file {entry['path']} missing"
        if "build" in service:
            context = service["build"] if isinstance(service["build"], str) else service["build"]["context"]
            dockerfile = "Dockerfile" if isinstance(service["build"], str) else service["build"].get(
                "dockerfile", "Dockerfile")
            assert (ROOT / context / dockerfile).is_file(), f"{name}: no {dockerfile} in {context}"

    prometheus = services()["prometheus"]
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = host_path(prometheus, config_flag.split("=", 1)[1])
    assert config_path == PROMETHEUS_DIR / "prometheus.yml"
    for rule_file in load_yaml(config_path)["rule_files"]:
        assert (config_path.parent / rule_file).is_file(), f"prometheus.yml loads {rule_file}, which does not exist"

    grafana = services()["grafana"]
    provisioning = host_path(grafana, "/etc/grafana/provisioning")
    assert (provisioning / "datasources" / "prometheus.yml").is_file()
    provider = load_yaml(provisioning / "dashboards" / "reviewstream.yml")["providers"][0]
    dashboards = host_path(grafana, provider["options"]["path"])
    assert (dashboards / DASHBOARD.name).is_file()
    home = grafana["environment"].get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH")
    if home:
        assert host_path(grafana, home) == DASHBOARD


def test_prometheus_scrapes_the_compose_workers() -> None:
    config = load_yaml(PROMETHEUS_DIR / "prometheus.yml")
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "reviewstream")
    sd = job["dns_sd_configs"][0]
    assert sd["names"] == ["worker"] and sd["names"][0] in services()
    port = default("web_port")
    assert sd["port"] == port
    assert str(port) in [str(p) for p in services()["worker"]["expose"]]
    assert job.get("metrics_path", "/metrics") == "/metrics"


def test_grafana_datasource_points_at_the_compose_prometheus() -> None:
    datasource = load_yaml(GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yml")["datasources"][0]
    assert datasource["type"] == "prometheus"
    assert re.fullmatch(r"http://prometheus:9090/?", datasource["url"])
    assert "9090:9090" in services()["prometheus"]["ports"]
    uids = {t["datasource"]["uid"] for p in dashboard_panels() if p.get("targets") for t in p["targets"]}
    uids |= {p["datasource"]["uid"] for p in dashboard_panels() if "datasource" in p}
    assert uids == {datasource["uid"]}


def test_llm_profile_runs_the_simulator_of_the_image() -> None:
    llm = services()["llm"]
    assert llm["build"] == services()["worker"]["build"]
    command = llm["command"]
    assert command[:2] == ["reviewstream", "simulate-llm"]
    assert command[command.index("--host") + 1] == "0.0.0.0"
    assert command[command.index("--port") + 1] in [str(p) for p in llm["expose"]]


# Environment variables that hold a secret, by name.
SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|API_KEY|CREDENTIALS)$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): str(v) for k, v in env.items()}


def test_compose_secrets_have_no_default() -> None:
    """A secret comes from the environment or .env and is required (`${VAR:?message}`): never a literal in the file,
    never a `${VAR:-default}` fallback (Grafana's admin password used to fall back to `admin`)."""
    required = re.compile(r"\$\{[A-Za-z_][A-Za-z0-9_]*:\?[^}]+\}")
    seen = set()
    for name, service in services().items():
        for key, value in environment(service).items():
            if SECRET_NAME.search(key):
                seen.add(key)
                assert required.fullmatch(value), f"{name}: {key} must be `${{SOME_VAR:?how to set it}}`, not {value!r}"
    assert "GF_SECURITY_ADMIN_PASSWORD" in seen, "Grafana's admin password must be set from outside the file"


def test_compose_prometheus_exposes_no_admin_endpoints() -> None:
    """--web.enable-lifecycle lets anyone who reaches :9090 stop or reload Prometheus (POST /-/quit, /-/reload);
    --web.enable-admin-api lets them delete series."""
    for name, service in services().items():
        command = service.get("command") or []
        text = command if isinstance(command, str) else " ".join(str(c) for c in command)
        for flag in ("--web.enable-lifecycle", "--web.enable-admin-api"):
            assert flag not in text, f"{name} runs with {flag}"


# ------------------------------------------------------------------------------------------------ dashboard
def test_dashboard_is_valid_grafana_json() -> None:
    dash = dashboard()
    assert dash["uid"] and dash["title"] and isinstance(dash["schemaVersion"], int)
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    rows = [p["title"] for p in dash["panels"] if p["type"] == "row"]
    for wanted in ("Throughput", "Latency", "Errors and dead letters", "LLM", "Business"):
        assert wanted in rows
    for panel in dashboard_panels():
        assert {"h", "w", "x", "y"} <= set(panel["gridPos"]), panel["title"]
        assert panel["gridPos"]["x"] + panel["gridPos"]["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel.get("targets"), f"panel {panel['title']!r} has no query"
            refs = [t["refId"] for t in panel["targets"]]
            assert len(refs) == len(set(refs)), panel["title"]


def test_dashboard_queries_use_only_metrics_the_worker_defines() -> None:
    names, _ = metrics_catalogue()
    allowed_labels = all_metric_labels() | PROMETHEUS_LABELS
    exprs = dashboard_exprs() + [("variable " + v["name"], v["query"]["query"].split("(", 1)[1].rsplit(",", 1)[0])
                                 for v in dashboard()["templating"]["list"] if v["type"] == "query"]
    assert len(exprs) > 30
    for title, expr in exprs:
        metrics, labels = promql_names(expr)
        unknown = metrics - names - {"up"}
        assert not unknown, f"panel {title!r} queries metrics streams/metrics.py does not define: {unknown}"
        assert labels <= allowed_labels, f"panel {title!r} uses unknown labels {labels - allowed_labels}"


def test_dashboard_covers_every_metric_family() -> None:
    """A metric nobody looks at is dead weight; a new metric should get a panel (or be listed here)."""
    names, _ = metrics_catalogue()
    used = set().union(*(promql_names(e)[0] for _, e in dashboard_exprs()))
    not_shown = {"process_virtual_memory_bytes", "process_start_time_seconds", "process_max_fds"}
    families = {re.sub(r"(_total|_bucket|_sum|_count)$", "", n) for n in names}
    used_families = {re.sub(r"(_total|_bucket|_sum|_count)$", "", n) for n in used}
    missing = families - used_families - not_shown
    assert not missing, f"metrics without a dashboard panel: {sorted(missing)}"


def test_dashboard_budget_line_matches_the_alert_constant() -> None:
    rule = next(r for r in rules() if r.get("alert") == "ReviewstreamLLMCostOverBudget")
    budget = re.search(r">\s*([0-9.]+)\s*$", rule["expr"].strip())
    assert budget
    assert rule["labels"]["budget_usd_per_hour"] == budget.group(1)
    assert any(e == f"vector({budget.group(1)})" for _, e in dashboard_exprs())


# ------------------------------------------------------------------------------------------------ rules
def test_alert_rules_use_only_existing_metrics_and_have_runbooks() -> None:
    names, _ = metrics_catalogue()
    allowed_labels = all_metric_labels() | PROMETHEUS_LABELS
    alerts = [r for r in rules() if "alert" in r]
    assert len(alerts) >= 8
    expected = {"reviewstream_oldest_in_flight_age_seconds", "reviewstream_dead_letters_total",
                "reviewstream_llm_breaker_state", "reviewstream_llm_requests_total",
                "reviewstream_llm_cost_usd_total", "reviewstream_degraded_insights_total", "up"}
    used: set[str] = set()
    for rule in alerts:
        metrics, labels = promql_names(rule["expr"])
        used |= metrics
        unknown = metrics - names - {"up"}
        assert not unknown, f"{rule['alert']} uses metrics streams/metrics.py does not define: {unknown}"
        assert labels <= allowed_labels, f"{rule['alert']} uses unknown labels {labels - allowed_labels}"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary"), f"{rule['alert']} has no summary"
        assert annotations.get("runbook") and "\n" not in annotations["runbook"].strip(), \
            f"{rule['alert']} needs a one-line runbook annotation"
        assert rule.get("labels", {}).get("severity") in {"critical", "warning", "info"}, rule["alert"]
    assert expected <= used, f"no alert on {expected - used}"
    assert len({r["alert"] for r in alerts}) == len(alerts), "alert names must be unique"


# ------------------------------------------------------------------------------------------------ metrics
def test_metric_labels_are_bounded() -> None:
    _, labels = metrics_catalogue()
    assert labels, "no metric found"
    for family, names in labels.items():
        bad = {n for n in names if n in FORBIDDEN_LABELS or n.endswith("_id")}
        assert not bad, f"{family} has unbounded or personal labels {bad}"


# ------------------------------------------------------------------------------------------------ k8s
def test_k8s_manifests_parse() -> None:
    kinds = sorted(d["kind"] for d in k8s_docs())
    assert kinds == sorted(["ConfigMap", "Secret", "Service", "Service", "StatefulSet", "PodDisruptionBudget",
                            "NetworkPolicy"])
    for doc in k8s_docs():
        assert doc.get("apiVersion") and doc["metadata"].get("name"), doc


def test_k8s_configmap_keys_are_settings() -> None:
    known = settings_env_names()
    (configmap,) = k8s("ConfigMap")
    data = configmap["data"]
    assert set(data) <= known, f"not settings: {set(data) - known}"
    assert all(isinstance(v, str) for v in data.values()), "ConfigMap values must be strings"
    Settings(**{k[len("REVIEWSTREAM_"):].lower(): v for k, v in data.items() if k.startswith("REVIEWSTREAM_")})
    assert data["REVIEWSTREAM_WEB_HOST"] == "0.0.0.0", "probes and Prometheus reach the pod from outside"


def test_k8s_configmap_names_every_public_topic_of_the_registry() -> None:
    """The platform team sees every topic a consumer may read in the ConfigMap, by its registry name."""
    (configmap,) = k8s("ConfigMap")
    data = configmap["data"]
    settings = Settings(**{k[len("REVIEWSTREAM_"):].lower(): v for k, v in data.items()
                           if k.startswith("REVIEWSTREAM_")})
    named = set(data.values())
    public = [spec for spec in topic_specs(settings) if not spec.internal]
    assert {spec.name for spec in public} <= named, "a public topic is missing from the ConfigMap"
    assert {spec.name for spec in public} == {spec.name for spec in topic_specs(Settings()) if not spec.internal}, \
        "the ConfigMap renames a topic compose creates under its default name"


def test_every_topic_of_the_registry_has_a_schema_unless_internal() -> None:
    for spec in topic_specs(Settings()):
        assert spec.internal or spec.schema in SCHEMA_NAMES, spec
        assert spec.config["max.message.bytes"] == str(TOPIC_MAX_MESSAGE_BYTES)


def test_k8s_secret_is_a_placeholder_for_every_secret_setting() -> None:
    (secret,) = k8s("Secret")
    values = {**secret.get("stringData", {}), **secret.get("data", {})}
    assert set(values) == {"OPENAI_API_KEY", "REVIEWSTREAM_API_TOKEN", "REVIEWSTREAM_DEAD_LETTER_KEYS",
                           "REVIEWSTREAM_KAFKA_SASL_PASSWORD"}
    assert not re.match(r"sk-[A-Za-z0-9_-]{20,}", values["OPENAI_API_KEY"]), "never commit a real key"
    assert values["REVIEWSTREAM_API_TOKEN"] == values["REVIEWSTREAM_DEAD_LETTER_KEYS"] == "", \
        "an empty token turns the views off; a placeholder would be a known token"
    (configmap,) = k8s("ConfigMap")
    assert not set(values) & set(configmap["data"]), "secrets belong in the Secret, not the ConfigMap"


def test_k8s_statefulset_wiring() -> None:
    (sts,) = k8s("StatefulSet")
    (configmap,) = k8s("ConfigMap")
    (secret,) = k8s("Secret")
    data = configmap["data"]
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    sources = {next(iter(s)): s[next(iter(s))]["name"] for s in container["envFrom"]}
    assert sources == {"configMapRef": configmap["metadata"]["name"], "secretRef": secret["metadata"]["name"]}

    port = int(data["REVIEWSTREAM_WEB_PORT"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": port}
    assert container["readinessProbe"]["httpGet"]["path"] == "/health"
    assert container["livenessProbe"]["httpGet"]["path"] in {"/metrics", "/health"}
    for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", port)
    assert container["resources"]["requests"] and container["resources"]["limits"]

    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] in claims)
    assert mount["mountPath"] == data["REVIEWSTREAM_DATADIR"], "the datadir must be on the pod's own volume"

    assert sts["spec"]["replicas"] <= int(data["REVIEWSTREAM_TOPIC_PARTITIONS"]), "replicas beyond partitions idle"
    assert pod["terminationGracePeriodSeconds"] > float(data["REVIEWSTREAM_LLM_DEADLINE_S"])
    labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= labels.items()

    services = {s["metadata"]["name"]: s for s in k8s("Service")}
    assert services[sts["spec"]["serviceName"]]["spec"]["clusterIP"] == "None"
    (pdb,) = k8s("PodDisruptionBudget")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()


def test_k8s_metrics_service_is_scraped_on_the_worker_port() -> None:
    (configmap,) = k8s("ConfigMap")
    port = configmap["data"]["REVIEWSTREAM_WEB_PORT"]
    (sts,) = k8s("StatefulSet")
    labels = sts["spec"]["template"]["metadata"]["labels"]
    scraped = [s for s in k8s("Service") if s["metadata"].get("annotations", {}).get("prometheus.io/scrape") == "true"]
    assert len(scraped) == 1
    (service,) = scraped
    annotations = service["metadata"]["annotations"]
    assert annotations["prometheus.io/port"] == port and annotations["prometheus.io/path"] == "/metrics"
    assert service["spec"]["selector"].items() <= labels.items()
    assert [p["port"] for p in service["spec"]["ports"]] == [int(port)]


def test_k8s_service_links_cannot_shadow_settings() -> None:
    """Kubernetes injects <SERVICE>_PORT=tcp://..., <SERVICE>_SERVICE_HOST... for every Service; a Service named
    `reviewstream-web` would set REVIEWSTREAM_WEB_PORT and break the worker. The pods switch that off, and no Service
    name of ours would collide anyway."""
    (sts,) = k8s("StatefulSet")
    assert sts["spec"]["template"]["spec"].get("enableServiceLinks", True) is False
    known = settings_env_names()
    for service in k8s("Service"):
        prefix = service["metadata"]["name"].upper().replace("-", "_")
        injected = {f"{prefix}_SERVICE_HOST", f"{prefix}_SERVICE_PORT", f"{prefix}_PORT"}
        injected |= {f"{prefix}_PORT_{p['port']}_TCP" for p in service["spec"]["ports"]}
        assert not injected & known, f"Service {service['metadata']['name']} would set {injected & known}"


def test_env_example_documents_every_setting() -> None:
    documented = set(re.findall(r"^#?\s*((?:REVIEWSTREAM|OPENAI)_[A-Z0-9_]+)=", (ROOT / ".env.example").read_text(),
                                re.MULTILINE))
    missing = settings_env_names() - documented
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_k8s_network_policy_admits_only_named_peers_to_the_worker_port() -> None:
    (policy,) = k8s("NetworkPolicy")
    (sts,) = k8s("StatefulSet")
    (configmap,) = k8s("ConfigMap")
    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    (container,) = sts["spec"]["template"]["spec"]["containers"]
    named_ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    web_port = int(configmap["data"]["REVIEWSTREAM_WEB_PORT"])

    spec = policy["spec"]
    selector = spec["podSelector"]["matchLabels"]
    assert selector and selector.items() <= pod_labels.items(), "the policy must select the StatefulSet's pods"
    assert "Ingress" in spec["policyTypes"]
    peers = []
    assert spec["ingress"], "an Ingress policy with no rule refuses even Prometheus"
    for rule in spec["ingress"]:
        assert rule.get("from"), "a rule without `from` admits every source"
        assert rule.get("ports"), "a rule without `ports` admits every port"
        for port in rule["ports"]:
            assert named_ports.get(port["port"], port["port"]) == web_port, port
            assert port.get("protocol", "TCP") == "TCP"
        peers.extend(rule["from"])
    for peer in peers:
        assert "ipBlock" not in peer, "address ranges are not a stable identity in a cluster"
        assert peer.get("podSelector", {}).get("matchLabels"), \
            f"{peer} admits whole namespaces; name the pods (a label) as well"
    workers = [p for p in peers if "namespaceSelector" not in p
               and p["podSelector"]["matchLabels"].items() <= pod_labels.items()]
    assert workers, "workers forward view requests to the owner of the key: they must reach each other"
    prometheus = [p for p in peers if p["podSelector"]["matchLabels"].get("app.kubernetes.io/name") == "prometheus"]
    assert prometheus, "Prometheus must reach /metrics"
