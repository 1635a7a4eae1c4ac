"""Language: instruction -> program parsing and open-vocabulary concept matching.

    from apeiria_model.language import parse_instruction, EmbeddingConceptMatcher
    parse_instruction("the mug on the desk closest to the window").program_text
    # 'relate_anchor(relate(filter(scene(), mug), filter(scene(), desk), on), filter(scene(), window), closest)'
"""

from apeiria_model.language.instruction_parser import ParseOutcome, parse_instruction, tokenize
from apeiria_model.language.open_vocab import (EmbeddingConceptMatcher, SynonymConceptMatcher, default_matcher,
                                               model_status)

__all__ = ["parse_instruction", "ParseOutcome", "tokenize", "EmbeddingConceptMatcher", "SynonymConceptMatcher",
           "default_matcher", "model_status"]
