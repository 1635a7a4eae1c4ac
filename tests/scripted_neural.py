"""A neural reasoner whose 'generation' is a fixed text: the reading, verification and
hybrid rules tested on traces written by hand."""

from __future__ import annotations

from apeiria_model.model.trace_format import read_output
from apeiria_model.reasoning.neural import NeuralReasoner


class ScriptedNeural(NeuralReasoner):
    def __init__(self, model, text: str):
        super().__init__(model=model)
        self.text = text

    def generate(self, instruction, scene, on_line=None):
        return read_output(self.text, scene, 40)
