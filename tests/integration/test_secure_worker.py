"""reviewstream on a secured cluster: the broker takes SASL_SSL with SCRAM only (tests/secure_kafka.py), and every
client — the worker's Faust app, its admin client, its skipped-offset reader, replay and the tests' own — connects
with the same settings. Wrong credentials or an untrusted CA stop the worker at start-up, at once, saying which."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import Deployment
from tests.integration.test_profiles_pipeline import all_insights, make_clicks, make_reviews, profiles_match
from tests.secure_kafka import SecureKafka
from tests.unit.reference_profile import reference_profiles

pytestmark = pytest.mark.integration


@pytest.mark.timeout(420)
async def test_a_worker_over_sasl_ssl_processes_reviews_and_clicks_end_to_end(secure_deployment: Deployment,
                                                                              tmp_path: Path) -> None:
    dep = secure_deployment
    clicks = make_clicks(800, seed=41)
    reviews = make_reviews(clicks, 30)
    await dep.produce([orjson.dumps(c) for c in clicks], topic=dep.settings.clickstream_topic,
                      keys=[c["user_id"].encode() for c in clicks])
    # Reviews go in the way a user sends them: `reviewstream replay`, over the same secured connection.
    sample = tmp_path / "reviews.jsonl"
    sample.write_bytes(b"\n".join(orjson.dumps(r) for r in reviews))
    replay = subprocess.run([sys.executable, "-m", "streams", "replay", str(sample), "--quiet"], env=dep.env,
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert replay.returncode == 0, replay.stderr
    worker = dep.start_worker("w1")
    insights = await all_insights(dep, reviews)
    problems = await profiles_match(dep.web_ports["w1"], reference_profiles(clicks, insights))
    assert not problems, f"{len(problems)} profiles differ, e.g. {list(problems.items())[:3]}\n" + dep.log_tail()
    assert worker.poll() is None


def start_refused(dep: Deployment, tmp_path: Path, **settings: str) -> tuple[int, str]:
    """Start a worker that must refuse to run; the timeout turns a hang or a retry loop into a failure."""
    env = {**dep.env, **settings, "REVIEWSTREAM_DATADIR": str(tmp_path / "refused")}
    proc = subprocess.run([sys.executable, "-m", "streams", "worker"], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("wrong, expected", [
    ({"REVIEWSTREAM_KAFKA_SASL_PASSWORD": "not-the-password"}, "refused the login of user"),
    ({"REVIEWSTREAM_KAFKA_SASL_MECHANISM": "PLAIN", "REVIEWSTREAM_KAFKA_SASL_USERNAME": "nobody"},
     "refused the login of user 'nobody'"),
    ("untrusted-ca", "is not trusted by the CA file"),
    ({"REVIEWSTREAM_KAFKA_SECURITY_PROTOCOL": "PLAINTEXT", "REVIEWSTREAM_KAFKA_SASL_MECHANISM": ""},
     "does REVIEWSTREAM_KAFKA_SECURITY_PROTOCOL=PLAINTEXT match"),
    ({"REVIEWSTREAM_KAFKA_SASL_PASSWORD": ""}, "needs REVIEWSTREAM_KAFKA_SASL_MECHANISM"),
])
def test_wrong_credentials_or_an_untrusted_ca_stop_the_worker_at_once_saying_which(
        secure_kafka_broker: SecureKafka, secure_deployment: Deployment, tmp_path: Path,
        wrong: dict[str, str] | str, expected: str) -> None:
    if wrong == "untrusted-ca":
        wrong = {"REVIEWSTREAM_KAFKA_SSL_CAFILE": str(secure_kafka_broker.untrusted_cafile)}
    assert isinstance(wrong, dict)
    code, stderr = start_refused(secure_deployment, tmp_path, **wrong)
    assert code != 0
    assert expected in stderr, stderr[-2000:]
    assert secure_kafka_broker.password not in stderr, "a secret must never reach a log"
    assert "Traceback" not in stderr, "a configuration mistake deserves a sentence, not a stack trace"

