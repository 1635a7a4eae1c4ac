"""speech_node: spoken instructions -> the instruction topic, fully offline.

Transcribes a WAV file (parameter ``wav_file``; setting it at run time transcribes the
new file) with pocketsphinx's bundled English acoustic model and, by default, a trigram
model of generated instructions filled with the labels of the current scene map
(apeiria_ros/speech_lm.py), and publishes the text on the grounding node's instruction
topic. ``use_microphone`` needs the optional
``sounddevice`` package; without it the node says so on its status topic.

    python -m apeiria_ros.speech_node --ros-args -p wav_file:=command.wav
"""

from __future__ import annotations

import json
import threading

from apeiria_ros.params import Param

PARAMS = [
    Param("wav_file", "", "WAV file to transcribe at start (and whenever this parameter is set)"),
    Param("use_microphone", False, "listen on the default microphone (needs the sounddevice package)", True),
    Param("record_seconds", 4.0, "microphone utterance length (s)"),
    Param("vocabulary", [""], "extra words the recogniser may hear (object names...)"),
    Param("grammar", "instructions", "instructions (trigram model of generated instructions with the scene's object "
          "names: best measured) | vocabulary (word loop over the known words) | open (general English LM)", True),
    Param("lm_cache_dir", "", "where built language models are cached ('' = $XDG_CACHE_HOME/apeiria/speech)", True),
    Param("scene_topic", "/apeiria/scene_map", "SceneMap whose labels join the vocabulary", True),
    Param("instruction_topic", "/apeiria/instruction", "std_msgs/String output (the grounding node's input)", True),
    Param("transcript_topic", "/apeiria/speech_transcript", "std_msgs/String JSON: file, text, status", True),
]


class SpeechNode:
    def __init__(self, node_name: str = "speech_node", **node_kwargs):
        from rclpy.node import Node
        from std_msgs.msg import String

        from apeiria.msg import SceneMap
        from apeiria_ros.params import declare_all, values
        from apeiria_ros.qos import qos_profile

        self.node = node = Node(node_name, **node_kwargs)
        declare_all(node, PARAMS)
        self.cfg = values(node, PARAMS)
        from apeiria_ros.speech import MODES

        if self.cfg["grammar"] not in MODES:
            raise ValueError(f"grammar must be one of {MODES}, got {self.cfg['grammar']!r}")
        self._cached: tuple[tuple[str, ...], object] | None = None
        self._String = String
        self._labels: set[str] = set()
        self._lock = threading.Lock()
        self.pub_instruction = node.create_publisher(String, self.cfg["instruction_topic"], qos_profile("reliable", 10))
        self.pub_transcript = node.create_publisher(String, self.cfg["transcript_topic"], qos_profile("latched"))
        node.create_subscription(SceneMap, self.cfg["scene_topic"], self._on_scene, qos_profile("latched"))
        node.add_on_set_parameters_callback(self._on_set)
        if self.cfg["wav_file"]:
            self._start(self.cfg["wav_file"])
        if self.cfg["use_microphone"]:
            threading.Thread(target=self._microphone_loop, daemon=True).start()

    def _on_scene(self, msg) -> None:
        self._labels = {o.label for o in msg.objects}

    def _on_set(self, params):
        from rcl_interfaces.msg import SetParametersResult

        for p in params:
            if p.name == "wav_file" and p.value:
                self._start(str(p.value))
        return SetParametersResult(successful=True)

    def _transcriber(self):
        """One decoder per vocabulary (scene labels + the parameter): building a language
        model takes seconds the first time, so it is kept until the labels change."""
        from apeiria_ros.speech import Transcriber

        mode = self.cfg["grammar"]
        vocab: tuple[str, ...] = ()
        if mode != "open":
            extra = [w for w in self.node.get_parameter("vocabulary").value if w]
            vocab = tuple(sorted(set(self._labels) | set(extra)))
        if self._cached is None or self._cached[0] != vocab:
            self._cached = (vocab, Transcriber(list(vocab), mode=mode, cache_dir=self.cfg["lm_cache_dir"] or None))
        return self._cached[1]

    def _start(self, path: str) -> None:
        # Decoding takes a second or two: never on the executor thread.
        threading.Thread(target=self._transcribe_file, args=(path,), daemon=True).start()

    def _transcribe_file(self, path: str) -> None:
        from apeiria_ros.env import resolve_path
        from apeiria_ros.speech import SpeechError

        with self._lock:
            try:
                text = self._transcriber().transcribe_wav(resolve_path(path))
            except SpeechError as e:
                self._report(path, "", "error", str(e))
                return
            except Exception as e:  # decoder failures: report, keep the node alive
                self._report(path, "", "error", f"{type(e).__name__}: {e}")
                return
        self._emit(path, text)

    def _emit(self, source: str, text: str) -> None:
        if not text:
            self._report(source, "", "no_speech", "nothing recognised")
            return
        self.pub_instruction.publish(self._String(data=text))
        self._report(source, text, "ok", "")

    def _report(self, source: str, text: str, status: str, message: str) -> None:
        log = self.node.get_logger()
        # (rclpy ties a severity to each call site: one call per severity)
        if status == "ok":
            log.info(f"{source}: {status} {text!r}")
        else:
            log.warning(f"{source}: {status} {message}")
        self.pub_transcript.publish(self._String(data=json.dumps(
            {"source": source, "text": text, "status": status, "message": message})))

    def _microphone_loop(self) -> None:
        try:
            import sounddevice  # optional, not a dependency
        except ImportError:
            self._report("microphone", "", "error", "use_microphone needs the 'sounddevice' package (pip install sounddevice)")
            return
        import numpy as np

        from apeiria_ros.speech import SAMPLE_RATE

        while True:
            try:
                secs = float(self.node.get_parameter("record_seconds").value)
                audio = sounddevice.rec(int(secs * SAMPLE_RATE), samplerate=SAMPLE_RATE, channels=1, dtype="int16")
                sounddevice.wait()
                with self._lock:
                    text = self._transcriber().transcribe_pcm(np.asarray(audio).tobytes())
                self._emit("microphone", text)
            except Exception as e:
                self._report("microphone", "", "error", f"{type(e).__name__}: {e}")
                return

    def destroy(self) -> None:
        self.node.destroy_node()


def main(argv: list[str] | None = None) -> int:
    from apeiria_ros.runtime import spin_node

    return spin_node(SpeechNode, argv, threads=2)


if __name__ == "__main__":
    raise SystemExit(main())
