"""Rasa NLG that speaks in the active persona's voice.

Chosen over a callback NLG endpoint on the action server because rendering
stays inside the Rasa process: no extra HTTP hop per message, and the persona
keeps speaking (e.g. the apology for an unreachable action server) when the
action server is down. Configured in endpoints.yml:

    nlg:
      type: bot.nlg.PersonaNaturalLanguageGenerator
"""
from __future__ import annotations

import copy
import logging
from typing import Any, Dict, List, Optional, Text

from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.core.nlg.interpolator import interpolate
from rasa.shared.core.domain import Domain
from rasa.utils.endpoints import EndpointConfig

from bot.persona import Persona, load_facts, load_persona, render_text

logger = logging.getLogger(__name__)


class PersonaNaturalLanguageGenerator(TemplatedNaturalLanguageGenerator):
    """Domain responses, with persona-specific variations and placeholders filled."""

    def __init__(
        self,
        endpoint_config: Optional[EndpointConfig] = None,
        domain: Optional[Domain] = None,
        persona: Optional[Persona] = None,
        facts: Optional[Dict[Text, Any]] = None,
    ) -> None:
        self.persona = persona or load_persona()
        self.facts = facts if facts is not None else load_facts()
        super().__init__(domain.responses if domain else {})
        logger.info("Persona '%s' (%s) speaks.", self.persona.id, self.persona.name)

    # Rasa's Agent assigns `nlg.responses = domain.responses` whenever a model is
    # loaded; merging the persona's own wording here keeps it across reloads.
    @property
    def responses(self) -> Dict[Text, List[Dict[Text, Any]]]:
        return self._responses

    @responses.setter
    def responses(self, value: Dict[Text, List[Dict[Text, Any]]]) -> None:
        merged = dict(value or {})
        merged.update(self.persona.responses)
        self._responses = merged

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
        if isinstance(rendered.get("text"), str):
            rendered["text"] = render_text(rendered["text"], self.persona, self.facts)
        if rendered.get("buttons"):
            rendered["buttons"] = [
                {**b, "title": render_text(str(b.get("title", "")), self.persona, self.facts)}
                for b in rendered["buttons"]
            ]
        return rendered

    def render_plain(self, text: Text, **values: Any) -> Text:
        """Render an ad-hoc text (no domain response) in the persona's voice."""
        text = render_text(text, self.persona, self.facts)
        return interpolate(text, values) if values else text
