"""Rasa NLG that speaks in the active persona's voice.

Chosen over a callback NLG endpoint on the action server because rendering
stays inside the Rasa process: no extra HTTP hop per message, and the persona
keeps speaking (e.g. the apology for an unreachable action server) when the
action server is down. Configured in endpoints.yml:

    nlg:
      type: bot.nlg.PersonaNaturalLanguageGenerator

The persona and the brand facts are read live (bot.persona.load_persona /
load_facts): an edit of personas/<id>.yml or data/brand/facts.yml is spoken
within a second, without a restart or retraining. A persona or facts passed to
the constructor are fixed instead (tests, the console's preview of a draft).
"""
from __future__ import annotations

import copy
import logging
import os
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Union

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.nlg.interpolator import interpolate
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot.persona import DEFAULT_PERSONA, Persona, load_facts, load_persona, render_text

logger = logging.getLogger(__name__)


class PersonaNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Domain responses, with persona-specific variations and placeholders filled."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        persona: Optional[Persona] = None,
        facts: Optional[Dict[Text, Any]] = None,
        persona_id: Optional[Text] = None,
        persona_dir: Union[str, Path, None] = None,
        facts_file: Union[str, Path, None] = None,
    ) -> None:
        # persona / facts given: fixed; otherwise read live from persona_dir /
        # facts_file (defaults: bot.persona.PERSONA_DIR / FACTS_FILE).
        self._fixed_persona = persona
        self._fixed_facts = facts
        self._persona_id = persona.id if persona else (persona_id or os.environ.get("PERSONA") or DEFAULT_PERSONA)
        self._persona_dir = persona_dir
        self._facts_file = str(facts_file) if facts_file else None
        self._merged_for: Optional[Persona] = None
        super().__init__(domain.responses if domain else {})
        persona = self.persona  # an unknown persona fails here, at start-up
        logger.info("Persona '%s' (%s) speaks.", persona.id, persona.name)

    @property
    def persona(self) -> Persona:
        if self._fixed_persona is not None:
            return self._fixed_persona
        return load_persona(self._persona_id, self._persona_dir)

    @persona.setter
    def persona(self, value: Persona) -> None:
        self._fixed_persona = value

    @property
    def facts(self) -> Dict[Text, Any]:
        if self._fixed_facts is not None:
            return self._fixed_facts
        return load_facts(self._facts_file)

    @facts.setter
    def facts(self, value: Dict[Text, Any]) -> None:
        self._fixed_facts = value

    # Rasa's Agent assigns `nlg.responses = domain.responses` whenever a model is
    # loaded; merging the persona's own wording here keeps it across reloads
    # (and the merge is redone when the persona file changed).
    @property
    def responses(self) -> Dict[Text, List[Dict[Text, Any]]]:
        persona = self.persona
        if persona is not self._merged_for:
            merged = dict(self._domain_responses)
            merged.update(persona.responses)
            self._responses, self._merged_for = merged, persona
        return self._responses

    @responses.setter
    def responses(self, value: Dict[Text, List[Dict[Text, Any]]]) -> None:
        self._domain_responses = dict(value or {})
        self._merged_for = None

    def _fill_response(
        self,
        response: Dict[Text, Any],
        filled_slots: Optional[Dict[Text, Any]] = None,
        **kwargs: Any,
    ) -> Dict[Text, Any]:
        response = self.render_persona(response)
        return super()._fill_response(response, filled_slots, **kwargs)

    def render_persona(self, response: Dict[Text, Any]) -> Dict[Text, Any]:
        """Fill persona and brand-fact placeholders in text and button titles."""
        rendered = copy.copy(response)
        persona, facts = self.persona, self.facts
        if isinstance(rendered.get("text"), str):
            rendered["text"] = render_text(rendered["text"], persona, facts)
        if rendered.get("buttons"):
            rendered["buttons"] = [
                {**b, "title": render_text(str(b.get("title", "")), persona, facts)}
                for b in rendered["buttons"]
            ]
        return rendered

    def render_plain(self, text: Text, **values: Any) -> Text:
        """Render an ad-hoc text (no domain response) in the persona's voice."""
        text = render_text(text, self.persona, self.facts)
        return interpolate(text, values) if values else text
