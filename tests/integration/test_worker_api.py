"""The worker's web API on a real worker: personal data only with the token, the same answer for every user without
it, health and metrics free of personal data; and the `profile`/`product` commands as a user runs them."""

from __future__ import annotations

import subprocess
import sys

import aiohttp
import orjson
import pytest

from tests.conftest import ROOT
from tests.integration.conftest import API_HEADERS, API_TOKEN, Deployment
from tests.integration.test_profiles_pipeline import all_insights, make_clicks, make_reviews, profiles_match
from tests.unit.reference_profile import reference_profiles

pytestmark = pytest.mark.integration


def cli(deployment: Deployment, *args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in deployment.env.items() if k != "REVIEWSTREAM_API_TOKEN"}
    if token is not None:
        env["REVIEWSTREAM_API_TOKEN"] = token
    return subprocess.run([sys.executable, "-m", "streams", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, check=False)


@pytest.mark.timeout(300)
async def test_personal_data_needs_the_token_and_health_and_metrics_carry_none(deployment: Deployment) -> None:
    clicks = make_clicks(300, seed=31)
    reviews = make_reviews(clicks, 10)
    await deployment.produce([orjson.dumps(c) for c in clicks], topic=deployment.settings.clickstream_topic,
                             keys=[c["user_id"].encode() for c in clicks])
    await deployment.produce([orjson.dumps(r) for r in reviews])
    worker = deployment.start_worker("w1")
    port = deployment.web_ports["w1"]
    expected = reference_profiles(clicks, await all_insights(deployment, reviews))
    problems = await profiles_match(port, {u: expected[u] for u in sorted(expected)[:5]})
    assert not problems, deployment.log_tail("w1")
    known = sorted(expected)[0]
    base = f"http://127.0.0.1:{port}"

    async with aiohttp.ClientSession() as anonymous:
        answers = []
        for user in (known, "u-nobody"):
            async with anonymous.get(f"{base}/profiles/{user}/") as response:
                answers.append((response.status, await response.read()))
            async with anonymous.get(f"{base}/profiles/{user}/",
                                     headers={"Authorization": "Bearer not-the-token"}) as response:
                answers.append((response.status, await response.read()))
        assert {status for status, _ in answers} == {401}
        assert len({body for _, body in answers}) == 1, "a known and an unknown user must look the same"
        async with anonymous.get(f"{base}/products/p01/") as response:
            assert response.status == 401
        async with anonymous.get(f"{base}/metrics") as metrics, anonymous.get(f"{base}/health") as health:
            assert metrics.status == 200 and health.status == 200
            exposed = (await metrics.text()) + (await health.text())
        for user in expected:
            assert f'"{user}"' not in exposed and f"={user}" not in exposed, f"{user} appears in /metrics or /health"

    async with aiohttp.ClientSession(headers=API_HEADERS) as authorised:
        async with authorised.get(f"{base}/profiles/{known}/") as response:
            assert response.status == 200 and (await response.json())["profile"]["user_id"] == known
        async with authorised.get(f"{base}/profiles/u-nobody/") as response:
            assert response.status == 404

    shown = cli(deployment, "profile", known, "--url", base, token=API_TOKEN)
    assert shown.returncode == 0, shown.stderr
    assert orjson.loads(shown.stdout)["profile"]["user_id"] == known
    refused = cli(deployment, "profile", known, "--url", base, token=None)
    assert refused.returncode == 1 and "REVIEWSTREAM_API_TOKEN" in refused.stderr
    assert known not in refused.stdout
    product = cli(deployment, "product", reviews[0]["product_id"], "--url", base, token=API_TOKEN)
    assert product.returncode in (0, 1), product.stderr  # 1: its insight may not be folded yet
    assert worker.poll() is None


async def test_without_a_token_configured_the_personal_views_are_off(deployment: Deployment) -> None:
    worker = deployment.start_worker("w1", REVIEWSTREAM_API_TOKEN="")
    port = deployment.web_ports["w1"]
    await deployment.wait_ready("w1", worker)
    async with aiohttp.ClientSession(headers=API_HEADERS) as session:
        async with session.get(f"http://127.0.0.1:{port}/profiles/u001/") as response:
            assert response.status == 403
            assert "REVIEWSTREAM_API_TOKEN" in (await response.json())["error"]
