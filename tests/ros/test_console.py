"""`apeiria console` in a real headless browser (Debian's Chromium driven by Playwright):
the page loads, draws the map, grounds typed and spoken instructions through the
grounding node over ROS 2, shows the answer, the boxes and every trace step with its
verification mark; bad input gets an error on the page and the server keeps serving."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request

import pytest

from apeiria_model.scene.io import load_scene, save_scene
from apeiria_ros.env import REPO_ROOT
from apeiria_ros.launching import NodeSpec, ProcessGroup
from tests.ros.conftest import DOMAIN_ID, REQUIRE_ROS, require_ros, wait_until
from tests.ros.scenes import kitchen

pytestmark = [pytest.mark.ros, pytest.mark.timeout(300)]

require_ros()
if not REQUIRE_ROS:
    pytest.importorskip("playwright", reason="playwright is not installed (requirements/base.txt)")
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (requirements/ros.txt)")
    if shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (requirements/apt.txt)", allow_module_level=True)

from apeiria_ros.console.headless import ConsoleProcess, ask, chromium_page, wait_ready  # noqa: E402

DEMO_SCENE = REPO_ROOT / "config" / "demo_scene.json"
# --scene runs a grounding node of its own: on a domain no other test uses
OWN_DOMAIN = str((DOMAIN_ID + 37) % 100 + 1)
SPARE_DOMAIN = str((DOMAIN_ID + 71) % 100 + 1)  # one console whose node gets killed


def _env(ros_env, domain):
    return {**ros_env, "ROS_DOMAIN_ID": domain}


def _page_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    return errors


@pytest.fixture(scope="module")
def scene_console(ros_env, tmp_path_factory):
    logs = tmp_path_factory.mktemp("console")
    with ConsoleProcess(["--scene", str(DEMO_SCENE), "--domain-id", OWN_DOMAIN, "--log-dir", str(logs)],
                        env=_env(ros_env, OWN_DOMAIN)) as c:
        yield c
        assert c.proc.poll() is None, f"the console died:\n{c.text[-3000:]}"


def test_typed_instruction_answer_boxes_and_trace(scene_console):
    from apeiria_model.reasoning import load_reasoner

    scene = load_scene(DEMO_SCENE)
    q = "the mug on the desk closest to the lamp"
    expected = load_reasoner("symbolic").ground(q, scene)  # the same reasoner, in-process
    assert expected.status == "ok" and expected.steps
    with chromium_page() as page:
        errors = _page_errors(page)
        page.goto(scene_console.url)
        wait_ready(page)
        # the map: one box per object of the scene, with its id and label
        assert page.locator("#map g.obj").count() == len(scene)
        assert page.locator('#map text.label[data-id="3"]').text_content() == "3 lamp"
        assert scene.scene_id in page.inner_text("#scene-title")
        ask(page, q)
        assert page.inner_text("#status").lower() == "ok"
        assert page.inner_text("#verified") == "\u2713 verified"
        # grounded boxes drawn: exactly the targets, and the anchors the trace used
        tids = [t.id for t in expected.targets]
        drawn = page.eval_on_selector_all("#map g.obj.target", "els => els.map(e => +e.dataset.id)")
        assert sorted(drawn) == sorted(tids)
        anchors = page.eval_on_selector_all("#map g.obj.anchor", "els => els.map(e => +e.dataset.id)")
        assert sorted(anchors) == [0, 3]  # the desk and the lamp
        assert page.locator("#map circle.ring").count() == len(tids)
        assert f"target {tids[0]} \u00b7 white mug" in page.inner_text("#answer-main")
        # the approach goal the node sent to /goal_pose, drawn where the node computed it
        from apeiria_ros.approach import approach_pose

        pose = approach_pose(scene, tids[0], 0.6, 0.3)  # config/grounding.yaml's standoff, robot_radius
        page.wait_for_function("(p) => { const g = window.apeiriaConsole.state.goal;"
                               " return g && Math.abs(g.x - p[0]) < 1e-6 && Math.abs(g.y - p[1]) < 1e-6; }",
                               arg=[pose.x, pose.y], timeout=10000)
        assert page.locator("#map g.goal").count() == 1
        # the trace, step by step, each with its verification mark
        steps = page.locator("#trace li.step")
        assert steps.count() == len(expected.steps)
        for k, s in enumerate(expected.steps):
            li = steps.nth(k)
            assert li.get_attribute("data-op") == s.op
            assert li.get_attribute("data-verified") == "true"
            assert li.locator(".mark").inner_text() == "\u2713"
            assert s.plan in li.inner_text()
        # the steps came in one by one first (the Ground action's feedback), then the result
        fb = page.evaluate("() => window.apeiriaConsole.state.progressLog.map(p => p.stage + ':' + p.index)")
        assert "reasoning:0" in fb
        # (in order; the node gives them a 0.1 s head start over the result, and rclpy drops
        # feedback that arrives after it, so on a loaded machine the last few may be missing)
        streamed = [f for f in fb if f.startswith("step:")]
        assert streamed == [f"step:{s.index}" for s in expected.steps][:len(streamed)]
        # hovering a step highlights what it found on the map
        steps.nth(0).hover()
        hl = page.eval_on_selector_all("#map g.obj.step-hl", "els => els.map(e => +e.dataset.id)")
        assert sorted(hl) == sorted(expected.steps[0].output)
        # a QA instruction: the value is the answer, the objects it counted are boxed
        qa = load_reasoner("symbolic").ground("how many mugs are there?", scene)
        assert qa.answer == 2
        ask(page, "how many mugs are there?")
        assert page.inner_text("#answer-main .answer-value") == "2"
        assert sorted(page.eval_on_selector_all("#map g.obj.target", "els => els.map(e => +e.dataset.id)")) == \
            sorted(t.id for t in qa.targets)
        # the history brings an earlier answer back onto the map
        page.locator("#history li", has_text=q).click()
        assert sorted(page.eval_on_selector_all("#map g.obj.target", "els => els.map(e => +e.dataset.id)")) == tids
        assert errors == []


def test_failed_and_unchecked_steps_get_their_marks(scene_console):
    """What the page draws for a result whose checks did not all pass (a neural reasoner's
    unverified step, a failed re-check): the server's own frame, altered, fed to the page.
    In a narrow window (one column), where the form must stay reachable below the map."""
    with chromium_page(viewport=(900, 800)) as page:
        page.goto(scene_console.url)
        wait_ready(page)
        ask(page, "the mug on the desk closest to the lamp")
        page.evaluate("""() => {
            const r = structuredClone(window.apeiriaConsole.state.result);
            r.instruction = "altered"; r.verified = false; r.failed_check = "steps";
            r.steps[1].verified = false; r.steps[2].verified = null;
            window.apeiriaConsole.handle({type: "result", id: "injected", result: r});
        }""")
        marks = page.eval_on_selector_all("#trace li.step", "els => els.map(e => e.dataset.verified + "
                                          "e.querySelector('.mark').textContent)")
        assert marks[:3] == ["true\u2713", "false\u2717", "unknown\u2013"]
        assert page.inner_text("#verified") == "\u2717 verification failed (steps)"


def test_bad_input_is_an_error_on_the_page_and_the_server_keeps_serving(scene_console):
    with chromium_page() as page:
        errors = _page_errors(page)
        page.goto(scene_console.url)
        wait_ready(page)
        err = page.locator("#error")

        def raw(text: str, expect: str):
            page.evaluate("(t) => window.apeiriaConsole.sendRaw(t)", text)
            page.wait_for_function("(e) => { const el = document.getElementById('error');"
                                   " return !el.hidden && el.textContent.includes(e); }", arg=expect, timeout=10000)

        # through the form: too long (the server's limit), then empty (the page's own check)
        page.fill("#instruction", "the red mug " * 300)
        page.click("#submit")
        page.wait_for_selector("#error:not([hidden])", timeout=10000)
        assert "at most 2000 are accepted" in err.inner_text()
        assert page.locator("#history li .badge").first.text_content() == "error"
        page.fill("#instruction", "   ")
        page.click("#submit")
        assert err.inner_text() == "type an instruction first"
        # malformed requests straight down the page's socket
        raw("not json {", "not JSON")
        raw("[1, 2, 3]", "must be a JSON object")
        raw('{"type": "ground", "id": "x", "instruction": 5}', "'instruction' must be a string")
        raw('{"type": "ground", "id": "x", "instruction": "the mug", "reasoner": "magic"}', "'reasoner' must be one of")
        raw('{"type": "ground", "id": "x", "instruction": "the \\u0007 mug"}', "control characters")
        raw('{"type": "launch_missiles"}', "unknown request type")
        raw('{"type": "speech", "id": "s", "wav": "%%%"}', "not valid base64")
        raw('{"type": "speech", "id": "s", "wav": "UklGRgAAAABXQVZF"}', "not a PCM WAV file")
        page.evaluate("() => window.apeiriaConsole.state.ws.send(new Uint8Array([1, 2, 3]))")
        page.wait_for_function("() => document.getElementById('error').textContent.includes('binary frames')")
        # a frame over the size limit closes that socket (1009); the page reconnects by itself
        page.evaluate("() => window.apeiriaConsole.sendRaw('x'.repeat(7 * 1024 * 1024))")
        page.wait_for_selector('#conn[data-state="closed"]', timeout=10000)
        assert "too large" in page.inner_text("#conn")
        page.wait_for_selector('#conn[data-state="open"]', timeout=15000)
        wait_ready(page)
        # ... and the server still grounds
        ask(page, "the red mug")
        assert page.inner_text("#status").lower() == "ok"
        assert page.eval_on_selector_all("#map g.obj.target", "els => els.map(e => +e.dataset.id)") == [1]
        assert page.locator("#error").is_hidden()
        assert errors == []
    health = json.load(urllib.request.urlopen(scene_console.url + "healthz", timeout=5))
    assert health["ready"] and health["scene_id"] == "apeiria_demo_room"


def test_cross_origin_websocket_is_refused(scene_console):
    import asyncio

    import aiohttp

    async def connect(origin):
        async with aiohttp.ClientSession() as s:
            try:
                async with s.ws_connect(scene_console.url + "ws", headers={"Origin": origin}) as ws:
                    hello = await ws.receive_json(timeout=10)
                    return hello["type"]
            except aiohttp.WSServerHandshakeError as e:
                return e.status

    assert asyncio.run(connect("http://evil.example")) == 403
    assert asyncio.run(connect(scene_console.url.rstrip("/"))) == "hello"


@pytest.mark.skipif(shutil.which("espeak-ng") is None and not REQUIRE_ROS,
                    reason="espeak-ng not installed (requirements/apt.txt)")
def test_spoken_instruction_through_the_browser_microphone(scene_console, tmp_path):
    wav = tmp_path / "white_mug.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "140", "-w", str(wav), "the white mug"], check=True)
    # Chromium's fake microphone plays the file once (%noloop), then silence
    fake_mic = ("--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-audio-capture={wav}%noloop")
    with chromium_page(extra_args=fake_mic) as page:
        errors = _page_errors(page)
        page.goto(scene_console.url)
        wait_ready(page)
        page.click("#mic")
        page.wait_for_selector("#mic.recording", timeout=10000)
        time.sleep(2.5)
        page.click("#mic")
        page.wait_for_function("() => { const r = window.apeiriaConsole.state.result; return r && r.status; }",
                               timeout=60000)
        assert page.input_value("#instruction") == "the white mug"  # the transcript
        assert page.inner_text("#status").lower() == "ok"
        assert page.locator("#history li .h-text").first.text_content() == "the white mug"
        assert page.eval_on_selector_all("#map g.obj.target", "els => els.map(e => +e.dataset.id)") == [2]
        assert errors == []


def test_attaches_to_a_running_grounding_node_and_its_scene_map(ros, ros_env, log_dir, tmp_path):
    from apeiria.msg import SceneMap
    from apeiria_ros.conversions.scene import scene_to_msg
    from apeiria_ros.qos import qos_profile

    topic, service = "/console_test/scene_map", "/console_test/ground"
    args = ["--scene-topic", topic, "--service", service, "--action", "", "--domain-id", str(DOMAIN_ID),
            "--log-dir", str(tmp_path)]
    with ConsoleProcess(args, env=ros_env) as c, chromium_page() as page:
        errors = _page_errors(page)
        page.goto(c.url)
        page.wait_for_selector('#conn[data-state="open"]')
        assert f"waiting for a SceneMap on {topic}" in page.inner_text("#map-empty")
        assert "waiting for a grounding node" in page.inner_text("#node")
        # nothing to ask yet: a clear error, not a hang
        page.fill("#instruction", "the green bowl")
        page.click("#submit")
        page.wait_for_selector("#error:not([hidden])", timeout=10000)
        assert f"no grounding node serves {service}" in page.inner_text("#error")
        # a grounding node comes up and a map is published: the page follows both
        g = ProcessGroup(ros_env, log_dir / "console_attach")
        save_scene(kitchen(), tmp_path / "kitchen.json")
        # (the console runs with --action '': it grounds through the service)
        g.start(NodeSpec("grounding_node", params={"scene_topic": topic, "service_name": service,
                                                   "action_name": "/console_test/ground_action",
                                                   "scene_file": str(tmp_path / "kitchen.json"),
                                                   "publish_goal": False}))
        pub = ros.node.create_publisher(SceneMap, topic, qos_profile("latched"))
        try:
            # a node with only a scene_file: the page says why there is no map
            page.wait_for_function("() => document.getElementById('map-empty').textContent"
                                   ".includes('no SceneMap arrives')", timeout=90000)
            assert "kitchen_test" in page.inner_text("#map-empty")
            pub.publish(scene_to_msg(kitchen(), stamp=ros.node.get_clock().now().to_msg()))
            wait_ready(page, 90000)
            assert page.locator("#map g.obj").count() == len(kitchen())
            assert f"topic {topic}" in page.inner_text("#scene-title")
            wait_until(lambda: "scene" in page.inner_text("#events"), 30, what="the node's scene event")
            ask(page, "the green bowl")
            assert page.inner_text("#status").lower() == "ok"
            assert page.eval_on_selector_all("#map g.obj.target", "els => els.map(e => +e.dataset.id)") == [11]
            assert "kitchen_test" in page.inner_text("#answer-meta")
            assert page.evaluate("() => window.apeiriaConsole.state.progressLog.length") == 0
        finally:
            ros.node.destroy_publisher(pub)
            g.stop()
        assert errors == []
    assert c.proc.returncode == 0, c.text[-2000:]


def test_console_refuses_a_bad_scene_and_an_unknown_parameter(ros_env, tmp_path):
    import sys

    bad = tmp_path / "bad.json"
    bad.write_text('{"scene_id": "x", "objects": [{"id": 1}]}')
    base = [sys.executable, "-m", "apeiria_model.cli.main", "console", "--domain-id", OWN_DOMAIN,
            "--log-dir", str(tmp_path), "--port", "0"]
    p = subprocess.run(base + ["--scene", str(bad)], env=ros_env, capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "--scene" in p.stderr and "Traceback" not in p.stderr
    save_scene(kitchen(), tmp_path / "k.json")
    p = subprocess.run(base + ["--scene", str(tmp_path / "k.json"), "--set", "no_such_param=1"], env=ros_env,
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "no parameter no_such_param" in p.stderr and "Traceback" not in p.stderr


def _pids_with_log_dir(ros_log_dir) -> list[int]:
    from pathlib import Path

    marker = f"ROS_LOG_DIR={ros_log_dir}".encode()
    found = []
    for env_file in Path("/proc").glob("[0-9]*/environ"):
        try:
            if marker in env_file.read_bytes().split(b"\0"):
                found.append(int(env_file.parent.name))
        except OSError:
            continue
    return found


def test_a_dying_grounding_node_is_reported_and_nothing_is_left_behind(ros_env, tmp_path):
    import os
    import signal

    logs = (tmp_path / "logs").resolve()
    env = _env(ros_env, SPARE_DOMAIN)
    env.pop("ROS_LOG_DIR", None)
    c = ConsoleProcess(["--scene", str(DEMO_SCENE), "--domain-id", SPARE_DOMAIN, "--log-dir", str(logs)], env=env)
    try:
        with chromium_page() as page:
            page.goto(c.url)
            wait_ready(page)
            nodes = [p for p in _pids_with_log_dir(logs / "ros") if p != c.proc.pid]
            assert len(nodes) == 1, nodes  # the grounding node it started
            os.kill(nodes[0], signal.SIGKILL)
            page.wait_for_function("() => document.getElementById('node').textContent.includes('exited')",
                                   timeout=20000)
            assert "grounding_node exited with status -9" in page.inner_text("#node")
            page.fill("#instruction", "the red mug")
            page.click("#submit")
            page.wait_for_selector("#error:not([hidden])", timeout=10000)
            assert "the grounding node this console started has exited" in page.inner_text("#error")
            assert json.load(urllib.request.urlopen(c.url + "healthz", timeout=5))["ready"] is False
    finally:
        rc = c.stop()
    assert rc == 0, c.text[-2000:]
    assert "apeiria console: stopping" in c.text
    assert _pids_with_log_dir(logs / "ros") == []


def test_a_busy_port_is_one_line(ros_env, tmp_path):
    import socket
    import sys

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([sys.executable, "-m", "apeiria_model.cli.main", "console", "--port", str(port),
                            "--domain-id", OWN_DOMAIN, "--log-dir", str(tmp_path)],
                           env=ros_env, capture_output=True, text=True, timeout=60)
    assert p.returncode == 2 and f"cannot serve on 127.0.0.1:{port}" in p.stderr and "Traceback" not in p.stderr
